import FarmWire
import Foundation
import Testing

/// The coordinator recognises an idle worker's heartbeat by its bytes, without the decoder: it must recognise what
/// every sender sends, and nothing the full decoder would refuse or read as anything else.
@Suite struct IdleHeartbeatTests {
    /// What the full path makes of `frames`: the command, sequence and heartbeat, or the refusal's kind.
    static func decoded(_ frames: [Data]) -> Result<(Command, UInt32, Heartbeat?), WireError> {
        do {
            let m = try WireMessage(frames: frames)
            return .success((m.command, m.sequence, m.command == .heartbeat ? try m.payload(Heartbeat.self) : nil))
        } catch {
            return .failure(error)
        }
    }

    @Test(arguments: [0, 1, 255, 65_536, UInt32.max])
    func theHeartbeatEverySenderBuildsIsRecognisedWithItsSequence(_ sequence: UInt32) {
        let frames = WireMessage(.heartbeat, Heartbeat(), sequence: sequence).frames
        #expect(WireMessage.idleHeartbeatSequence(frames) == sequence)
        // From the ROUTER's frames too, after its identity.
        let routed = [Data([0, 1, 2, 3, 4])] + frames
        #expect(WireMessage.idleHeartbeatSequence(routed.dropFirst()) == sequence)
    }

    /// Near misses go to the full path, which refuses or decodes them as before.
    @Test func nearMissesAreLeftToTheFullDecoder() throws {
        let good = WireMessage(.heartbeat, Heartbeat(), sequence: 9).frames
        let lease = WireMessage(.heartbeat, Heartbeat(running: [Lease(task: "j:s/0", attempt: 1)])).frames
        var version = good, magic = good, command = good
        version[0][2] = 99
        magic[0][0] = UInt8(ascii: "X")
        command[0][3] = Command.progress.rawValue
        let cases: [(frames: [Data], refused: WireError.Kind?)] = [
            (lease, nil),  // lists a lease: decoded in full
            ([good[0], Data(#"{"running": []}"#.utf8)], nil),  // the same heartbeat, other bytes
            ([good[0], Data(#"{"running":[],"x":1}"#.utf8)], nil),
            ([good[0], Data(#"{"running":[]} "#.utf8)], nil),
            (good + [Data()], nil),  // a blob frame: not an idle heartbeat's shape
            ([good[0]], .malformed),
            ([good[0], Data(#"{"running":[]"#.utf8)], .badPayload),
            ([good[0], Data(#"{"running":{}}"#.utf8)], .badPayload),
            ([good[0], Data(#"{"runninG":[]}"#.utf8)], .badPayload),
            ([good[0].prefix(7), good[1]], .malformed),
            ([good[0] + Data([0]), good[1]], .malformed),
            (version, .badVersion),
            (magic, .malformed),
            (command, nil),  // a `progress` (refused once its payload is read as one)
            (good + [Data(count: WireMessage.maxMessageBytes)], .tooLarge),
        ]
        for (frames, refused) in cases {
            #expect(WireMessage.idleHeartbeatSequence(frames) == nil, "\(frames.map { [UInt8]($0) })")
            switch Self.decoded(frames) {
            case .success: #expect(refused == nil, "decoded, expected \(String(describing: refused))")
            case .failure(let e): #expect(e.kind == refused, "\(e)")
            }
        }
    }

    /// SplitMix64, so every run sees the same mutations.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Every mutation of an idle heartbeat (a byte changed, inserted or cut, a frame added or dropped) that the fast
    /// path recognises is one the full path reads as the same idle heartbeat with the same sequence. This fails if the
    /// recogniser ever accepts what the decoder refuses or reads otherwise.
    @Test func whatIsRecognisedIsExactlyWhatTheDecoderReadsAsAnIdleHeartbeat() {
        var r = Random(state: 12)
        var recognised = 0, refused = 0
        let bytes: [UInt8] = [0, 1, 2, 0x20, 0x7F, 0x80, 0xFF] + Array(#"RF{}[]":,runig "#.utf8)
        for _ in 0..<20_000 {
            var frames = WireMessage(.heartbeat, Heartbeat(), sequence: UInt32(truncatingIfNeeded: r.next())).frames
            for _ in 0...r.below(2) {
                let f = r.below(frames.count)
                switch r.below(6) {
                case 0, 1:
                    if !frames[f].isEmpty { frames[f][r.below(frames[f].count)] = bytes[r.below(bytes.count)] }
                case 2: frames[f].insert(bytes[r.below(bytes.count)], at: r.below(frames[f].count + 1))
                case 3: if !frames[f].isEmpty { frames[f].remove(at: r.below(frames[f].count)) }
                case 4: frames.append(Data(bytes.prefix(r.below(4))))
                default: if frames.count > 1 { frames.remove(at: f) }
                }
            }
            let fast = WireMessage.idleHeartbeatSequence(frames)
            switch Self.decoded(frames) {
            case .success(let (command, sequence, beat)):
                if let fast {
                    recognised += 1
                    #expect(command == .heartbeat && sequence == fast && beat == Heartbeat(), "\(frames.map { [UInt8]($0) })")
                }
            case .failure:
                refused += 1
                #expect(fast == nil, "recognised what the decoder refuses: \(frames.map { [UInt8]($0) })")
            }
        }
        // Both sides of the property are exercised (sequence changes keep a heartbeat idle; most others break it).
        #expect(recognised > 100 && refused > 1_000, "\(recognised) recognised, \(refused) refused")
    }
}
