import FarmCore
import FarmWire
import Foundation
import Testing

@Suite struct ProtocolCodecTests {
    static let lease = Lease(task: "j0123456789:eyes/1", attempt: 2)

    static let format = OutputFormat(width: 320, height: 192, fps: Rational(30000, 1001), sampleRate: 48_000, channels: 2)

    static func latents(_ t: Int, fill: Float) -> Latents {
        Latents(video: LatentTensor(shape: [t, 8, 1, 1], values: (0..<(t * 8)).map { Float($0) + fill }),
                audio: LatentTensor(shape: [t, 0]))
    }

    static let segmentTask = SegmentTask(
        id: "eyes/1", shot: ShotBrief(index: 0, id: "eyes", prompt: "eyes open", camera: "close-up", sound: "hum",
                                      cues: [.init(sample: 96_000, sound: "click")], frames: TimeRange(0, 216)),
        index: 1, format: format, generate: TimeRange(80, 177), own: TimeRange(97, 177), samples: TimeRange(155_844, 283_283),
        pins: [LatentPin(latentIndex: 0, latents: latents(5, fill: 0.5))], seed: 123, steps: 8, tailLatents: 5,
        keyframes: [PinnedImage(frame: 120, image: image(7))], references: [image(9), image(11)])

    static func image(_ seed: UInt8) -> StillImage {
        StillImage(width: 320, height: 192, rgb: (0..<(320 * 192 * 3)).map { UInt8(truncatingIfNeeded: $0 &* Int(seed)) })
    }

    /// One message of every command, with realistic payloads.
    static var everyMessage: [WireMessage] {
        let (seg, segBlobs) = SegmentDescription.make(segmentTask)
        let anchorTask = AnchorTask(id: "eyes/anchors", shot: segmentTask.shot, format: format, frames: [0, 96, 192],
                                    start: latents(1, fill: 2), seed: 9, steps: 4)
        let (anc, ancBlobs) = AnchorDescription.make(anchorTask)
        let model = ModelDescription(ModelSpec(engine: "testcard", window: 97, overlap: 17, steps: 8, seed: 7, schedule: .chain))
        return [
            WireMessage(.hello, Hello(name: "w", engines: ["testcard"], device: "cpu", slots: 2, memoryBytes: 1 << 30,
                                      maxFramePixels: 1 << 20, tags: ["a"], running: [lease])),
            WireMessage(.heartbeat, Heartbeat(running: [lease])),
            WireMessage(.progress, TaskProgress(lease: lease, step: 3, steps: 8)),
            WireMessage(.resultPart, ResultPart(lease: lease, output: "chunk", offset: 0, total: 3), blobs: [Data([1, 2, 3])]),
            WireMessage(.result, TaskResult(lease: lease, outputs: [OutputDigest(output: "chunk", size: 3, sha256: Digest.sha256(Data([1, 2, 3])))])),
            WireMessage(.failed, TaskFailed(lease: lease, reason: "engine error", handedBack: false)),
            WireMessage(.bye, Bye(reason: "drained")),
            WireMessage(.welcome, Welcome(workerId: "w-1", heartbeatMillis: 1000, deadAfterMillis: 3000, maxMessageBytes: 8 << 20,
                                          pieceBytes: 1 << 20, drop: [lease])),
            WireMessage(.assign, Assign(lease: lease, model: model, segment: seg, anchors: nil), blobs: segBlobs),
            WireMessage(.assign, Assign(lease: lease, model: model, segment: nil, anchors: anc), blobs: ancBlobs),
            WireMessage(.cancelTask, CancelTask(lease: lease, reason: "job cancelled")),
            WireMessage(.drain, Drain(reason: "drained from the dashboard")),
            WireMessage(.submit, Submit(storyboard: "title: x", source: "x.yaml", priority: 3)),
            WireMessage(.status, JobQuery(job: "j1")),
            WireMessage(.cancelJob, JobQuery(job: "j1")),
            WireMessage(.fetch, JobQuery(job: "j1", offset: 1 << 20)),
            WireMessage(.workers, JobQuery(job: nil)),
            WireMessage(.retryJob, JobQuery(job: "j1")),
            WireMessage(.deleteJob, JobQuery(job: "j1")),
            WireMessage(.jobPlan, JobQuery(job: "j1")),
            WireMessage(.setPriority, JobPriority(job: "j1", priority: -5)),
            WireMessage(.workerControl, WorkerControl(worker: "w1", action: .disable)),
            WireMessage(.reply, JobPlan(job: "j1", source: "x.yaml", storyboard: "title: x", baseDirectory: "/films",
                                        geometry: GeometryDocument(EngineGeometry(latentChannels: 4, maxWindow: 97)))),
            WireMessage(.reply, Submitted(job: "j1", tasks: 3, frames: 100)),
            WireMessage(.filmPart, FilmPart(job: "j1", offset: 0, total: 5), blobs: [Data([0, 0, 0, 1, 2])]),
            WireMessage(.refused, Refusal(kind: .stale, message: "lease is stale", issues: ["x"])),
            // A result whose output travels inline.
            WireMessage(.result, TaskResult(lease: lease, outputs: [OutputDigest(output: "tail", size: 2, sha256: Digest.sha256(Data([4, 5])), blob: 0)]),
                        blobs: [Data([4, 5])]),
        ]
    }

    @Test func everyCommandIsCovered() {
        #expect(Set(Self.everyMessage.map(\.command)) == Set(Command.allCases))
    }

    @Test func everyMessageRoundTripsThroughFrames() throws {
        for (i, m) in Self.everyMessage.enumerated() {
            var m = m
            m.sequence = UInt32(i * 7919)
            let back = try WireMessage(frames: m.frames)
            #expect(back == m, "\(m.command) did not round-trip")
        }
    }

    @Test func payloadsDecodeToWhatWasSent() throws {
        let messages = Self.everyMessage
        #expect(try WireMessage(frames: messages[0].frames).payload(Hello.self).slots == 2)
        #expect(try WireMessage(frames: messages[2].frames).payload(TaskProgress.self) == TaskProgress(lease: Self.lease, step: 3, steps: 8))
        let inline = try WireMessage(frames: messages.last!.frames)
        #expect(try inline.payload(TaskResult.self).outputs.first?.blob == 0)
        #expect(String(decoding: inline.meta, as: UTF8.self).contains("\"blob\":0"))
        #expect(!String(decoding: messages[4].meta, as: UTF8.self).contains("blob"))
        let deleted = WireMessage(.reply, Deleted(job: "j1", removedArtifacts: 7, freedBytes: 1 << 20))
        #expect(try WireMessage(frames: deleted.frames).payload(Deleted.self) == deleted.payload(Deleted.self))
        let retried = WireMessage(.reply, Retried(job: "j1", requeuedTasks: 2))
        #expect(String(decoding: retried.meta, as: UTF8.self) == #"{"job":"j1","requeued_tasks":2}"#)
        #expect(try WireMessage(frames: retried.frames).payload(Retried.self) == Retried(job: "j1", requeuedTasks: 2))
        let assign = try WireMessage(frames: messages[8].frames)
        let task = try assign.payload(Assign.self).segment!.task(blobs: assign.blobs)
        #expect(task == Self.segmentTask)
        #expect(task.keyframes.first?.frame == 120 && task.references.count == 2)
        var short = assign.blobs
        short[1] = short[1].dropLast()
        #expect(throws: WireError.self) { try assign.payload(Assign.self).segment!.task(blobs: short) }
        let anchors = try WireMessage(frames: messages[9].frames)
        let a = try anchors.payload(Assign.self).anchors!.task(blobs: anchors.blobs)
        #expect(a.frames == [0, 96, 192] && a.start == Self.latents(1, fill: 2))
    }

    @Test func theHandWrittenAssignIsTheEncodersDocument() throws {
        var assigns = Self.everyMessage.filter { $0.command == .assign }.map { try! $0.payload(Assign.self) }
        // Strings that need escaping, and optional fields present.
        var tricky = assigns[0]
        tricky.segment!.shot.prompt = "a \"quoted\" line\nwith \\ back/slash, tab\t, bell \u{07} and ünïcödé 🦞"
        tricky.model.config = "small"
        tricky.model.weights = "/w/small.safetensors"
        assigns.append(tricky)
        for a in assigns {
            let hand = WireMessage.assign(a, blobs: []).meta
            #expect(try WireJSON.decoder.decode(Assign.self, from: hand) == a)
            if a != tricky { #expect(hand == WireJSON.encode(a), "\(String(decoding: hand, as: UTF8.self))") }
        }
    }

    /// `welcome.beat_millis` is optional (a coordinator without it beats every 2 s), and whatever number a coordinator
    /// sends, the worker's silence limit stays within 1 s…10 min without overflowing.
    @Test func aWelcomeWithoutABeatMeansTwoSecondsAndAnyBeatGivesABoundedSilence() throws {
        let old = #"{"worker_id":"w-1","heartbeat_millis":1000,"dead_after_millis":3000,"max_message_bytes":8388608,"piece_bytes":1048576,"drop":[]}"#
        let welcome = try WireJSON.decoder.decode(Welcome.self, from: Data(old.utf8))
        #expect(welcome.beatMillis == nil && welcome.silenceMillis == 5_000)
        var w = welcome
        for (beat, silence) in [(5_000, 12_500), (0, 1_000), (-7, 1_000), (Int.max, 600_000), (Int.min, 1_000)] {
            w.beatMillis = beat
            #expect(w.silenceMillis == silence, "beat \(beat)")
        }
        w.beatMillis = 5_000
        #expect(String(decoding: WireJSON.encode(w), as: UTF8.self).contains(#""beat_millis":5000"#))
    }

    @Test func headerIsTheDocumentedEightBytes() {
        let frames = WireMessage(.progress, TaskProgress(lease: Self.lease, step: 1, steps: 2), sequence: 0x0403_0201).frames
        #expect([UInt8](frames[0]) == [0x52, 0x46, 1, 3, 1, 2, 3, 4])
        #expect(String(decoding: frames[1], as: UTF8.self).contains("\"lease\":{\"attempt\":2,\"task\":\"j0123456789:eyes/1\"}"))
    }

    @Test func badFramesAreRefusedWithTheirKind() {
        func kind(_ frames: [Data]) -> WireError.Kind? {
            do { _ = try WireMessage(frames: frames); return nil } catch { return error.kind }
        }
        let good = WireMessage(.heartbeat, Heartbeat()).frames
        #expect(kind([Data("garbage".utf8)]) == .malformed)
        #expect(kind([Data("garbage!".utf8), Data()]) == .malformed)
        var wrongVersion = good
        wrongVersion[0][2] = 9
        #expect(kind(wrongVersion) == .badVersion)
        var unknown = good
        unknown[0][3] = 200
        #expect(kind(unknown) == .unknownCommand)
        #expect(kind([good[0], good[1], Data(count: WireMessage.maxMessageBytes)]) == .tooLarge)
        let badJSON = WireMessage(command: .progress, meta: Data("{\"lease\": 5}".utf8))
        #expect(throws: WireError.self) { try badJSON.payload(TaskProgress.self) }
    }

    @Test func corruptLatentsAreRefused() throws {
        let good = LatentsCodec.encode(Self.latents(3, fill: 1))
        #expect(try LatentsCodec.decode(good) == Self.latents(3, fill: 1))
        #expect(throws: LatentsCodec.DecodeError.self) { try LatentsCodec.decode(good.dropLast(4)) }
        #expect(throws: LatentsCodec.DecodeError.self) { try LatentsCodec.decode(Data("RFLX".utf8) + good.dropFirst(4)) }
        #expect(throws: LatentsCodec.DecodeError.self) { try LatentsCodec.decode(good + Data([0])) }
        var huge = good
        huge.replaceSubrange(12..<20, with: withUnsafeBytes(of: Int64(1 << 30).littleEndian) { Data($0) })
        #expect(throws: LatentsCodec.DecodeError.self) { try LatentsCodec.decode(huge) }
    }

    @Test func theProtocolDocumentListsEveryCommandWithItsCode() throws {
        let doc = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/FarmWire/PROTOCOL.md"), encoding: .utf8)
        for c in Command.allCases {
            let snake = "\(c)".replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression).lowercased()
            #expect(doc.contains("| \(c.rawValue) | `\(snake)` |"), "PROTOCOL.md lacks command \(c.rawValue) `\(snake)`")
        }
        for k in WireError.Kind.allCases { #expect(doc.contains("`\(k.rawValue)`"), "PROTOCOL.md lacks refusal kind \(k.rawValue)") }
    }
}
