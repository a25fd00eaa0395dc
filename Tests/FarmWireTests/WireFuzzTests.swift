import FarmCore
import FarmTesting
import FarmWire
import Foundation
import Testing

/// Every message the coordinator, a worker or a client receives is decoded from hostile frames: it must be refused
/// with a ``WireError``, never trap.
@Suite struct WireFuzzTests {
    /// Decodes `m`'s metadata as every payload type, and turns task descriptions into tasks as a worker does.
    static func decodeEverything(_ m: WireMessage) {
        _ = try? m.payload(Hello.self)
        _ = try? m.payload(Welcome.self)
        _ = try? m.payload(Heartbeat.self)
        if let a = try? m.payload(Assign.self) {
            _ = try? a.segment?.task(blobs: m.blobs)
            _ = try? a.anchors?.task(blobs: m.blobs)
        }
        _ = try? m.payload(TaskProgress.self)
        _ = try? m.payload(ResultPart.self)
        _ = try? m.payload(TaskResult.self)
        _ = try? m.payload(TaskFailed.self)
        _ = try? m.payload(CancelTask.self)
        _ = try? m.payload(Bye.self)
        _ = try? m.payload(Submit.self)
        _ = try? m.payload(JobQuery.self)
        _ = try? m.payload(FilmPart.self)
        _ = try? m.payload(Refusal.self)
        _ = try? m.payload(Submitted.self)
        _ = try? m.payload(StatusReport.self)
        _ = try? m.payload(WorkersReport.self)
        _ = try? m.payload(Retried.self)
        _ = try? m.payload(Deleted.self)
        _ = try? m.payload(Cancelled.self)
    }

    static func segment(width: Int, height: Int, pin: Data? = nil) -> WireMessage {
        var (d, blobs) = SegmentDescription.make(ProtocolCodecTests.segmentTask)
        d.format.width = width
        d.format.height = height
        if let pin { blobs[0] = pin }
        let model = ModelDescription(ModelSpec(engine: "testcard", window: 97, overlap: 17, steps: 8, seed: 7, schedule: .chain))
        return WireMessage(.assign, Assign(lease: ProtocolCodecTests.lease, model: model, segment: d, anchors: nil), blobs: blobs)
    }

    func taskError(_ m: WireMessage) -> WireError? {
        do {
            let a = try WireMessage(frames: m.frames).payload(Assign.self)
            _ = try a.segment?.task(blobs: m.blobs)
            return nil
        } catch {
            return error
        }
    }

    // Trapped before: the keyframe and reference size check computed `width * height * 3` unchecked.
    @Test func assignWithOverflowingFrameSizeIsRefused() {
        #expect(taskError(Self.segment(width: 320, height: 192)) == nil)
        let error = taskError(Self.segment(width: 1 << 40, height: 1 << 40))
        #expect(error?.kind == .badPayload)
        #expect(error?.message.contains("keyframe blob") == true)
    }

    // Accepted before: a pinned latents blob with zero steps and overflowing trailing dimensions decoded, and the
    // engine's first `stride0` on it trapped.
    @Test func assignWithHostileLatentsIsRefused() {
        var pin = Data("RFLT".utf8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { pin.append(contentsOf: $0) } }
        put(UInt32(1))
        put(UInt32(3)); put(Int64(0)); put(Int64(1 << 31 - 1)); put(Int64(1 << 31 - 1))
        put(UInt32(2)); put(Int64(0)); put(Int64(1 << 31 - 1))
        let error = taskError(Self.segment(width: 320, height: 192, pin: pin))
        #expect(error?.kind == .badPayload)
        #expect(error?.message.contains("pin blob 0") == true)
    }

    // Accepted before, to trap in the engine: `pin.latentIndex + t` overflowed for an index near Int.max, and
    // `generate.count` for a range from -2^62 to 2^62 (the description only required lower <= upper).
    @Test func assignWithOutOfRangeIndicesIsRefused() throws {
        func error(_ edit: (inout SegmentDescription) -> Void) throws -> WireError? {
            let m = Self.segment(width: 320, height: 192)
            var a = try m.payload(Assign.self)
            var d = try #require(a.segment)
            edit(&d)
            a.segment = d
            return taskError(WireMessage(.assign, a, blobs: m.blobs))
        }
        #expect(try error { $0.pins[0].latentIndex = Int.max }?.message.contains("pin latent index") == true)
        #expect(try error { $0.generate = [-(1 << 62), 1 << 62] }?.message.contains("generate") == true)
        #expect(try error { $0.samples = [0, Int.max] }?.message.contains("samples") == true)
        #expect(try error { $0.tailLatents = -1 }?.message.contains("tail_latents") == true)
        #expect(try error { $0.keyframes[0].frame = Int.min }?.message.contains("frame") == true)
        #expect(try error { $0.shot.frames = [-5, 3] }?.message.contains("shot frames") == true)
    }

    /// 20 000 mutations of real messages (bytes of one frame edited, frames dropped or repeated) decode or are
    /// refused, whatever type the metadata is decoded as.
    @Test func mutatedMessagesNeverTrap() {
        let messages = ProtocolCodecTests.everyMessage.map(\.frames)
        var mutator = ByteMutator(seed: 0x3E7)
        var decoded = 0
        for i in 0 ..< 20_000 {
            var frames = messages[i % messages.count]
            switch mutator.below(8) {
            case 0: frames.remove(at: mutator.below(frames.count))
            case 1: frames.append(frames[mutator.below(frames.count)])
            default:
                // Mostly the header and the metadata: the blobs are opaque until a payload refers to them.
                let f = mutator.below(4) == 0 ? mutator.below(frames.count) : min(1, mutator.below(2))
                frames[f] = Data(mutator.mutate(Array(frames[f]), tokens: ["-1", "9223372036854775807", "1e300", "null",
                                                                           "\"\\ud800\"", "[", "{", "}", ",", "0.5"]))
            }
            guard let m = try? WireMessage(frames: frames) else { continue }
            decoded += 1
            Self.decodeEverything(m)
        }
        #expect(decoded > 10_000)
    }
}
