import FarmCore
import FarmWire
import Foundation

/// The wire target's input: byte 0 picks the payload type to decode the metadata as; the rest is frames, each a
/// little-endian UInt16 length and that many bytes (the last frame takes what is left when the length runs over).
enum WireInput {
    /// Every metadata payload type of the protocol, with the checks a receiver applies after decoding it.
    nonisolated(unsafe) static let payloads: [(WireMessage) throws -> Void] = [
        { _ = try $0.payload(Hello.self) },
        { _ = try $0.payload(Welcome.self) },
        { _ = try $0.payload(Heartbeat.self) },
        { m in
            let a = try m.payload(Assign.self)
            _ = try a.segment?.task(blobs: m.blobs)
            _ = try a.anchors?.task(blobs: m.blobs)
        },
        { _ = try $0.payload(TaskProgress.self) },
        { _ = try $0.payload(ResultPart.self) },
        { _ = try $0.payload(OutputDigest.self) },
        { _ = try $0.payload(TaskResult.self) },
        { _ = try $0.payload(TaskFailed.self) },
        { _ = try $0.payload(CancelTask.self) },
        { _ = try $0.payload(Bye.self) },
        { _ = try $0.payload(Submit.self) },
        { _ = try $0.payload(JobQuery.self) },
        { _ = try $0.payload(FilmPart.self) },
        { _ = try $0.payload(Refusal.self) },
        { _ = try $0.payload(Lease.self) },
        { _ = try $0.payload(ModelDescription.self).spec },
        { _ = try $0.payload(FormatDescription.self).format() },
        { _ = try $0.payload(ShotDescription.self).brief() },
        { m in _ = try m.payload(SegmentDescription.self).task(blobs: m.blobs) },
        { m in _ = try m.payload(AnchorDescription.self).task(blobs: m.blobs) },
        { _ = try $0.payload(Submitted.self) },
        { _ = try $0.payload(JobSummary.self) },
        { _ = try $0.payload(TaskSummary.self) },
        { _ = try $0.payload(AttemptSummary.self) },
        { _ = try $0.payload(StatusReport.self) },
        { _ = try $0.payload(WorkerSummary.self) },
        { _ = try $0.payload(WorkersReport.self) },
        { _ = try $0.payload(Retried.self) },
        { _ = try $0.payload(Deleted.self) },
        { _ = try $0.payload(Cancelled.self) },
        { _ = try WireValue.parse($0.meta) },
    ]

    static func frames(_ bytes: ArraySlice<UInt8>) -> [Data] {
        var frames: [Data] = []
        var at = bytes.startIndex
        while at < bytes.endIndex {
            guard at + 2 <= bytes.endIndex else { frames.append(Data(bytes[at...])); break }
            let n = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            at += 2
            let end = min(at + n, bytes.endIndex)
            frames.append(Data(bytes[at ..< end]))
            at = end
        }
        return frames
    }

    /// The inverse of ``frames(_:)``, for seeds.
    static func encode(_ message: WireMessage, payload: Int) -> [UInt8] {
        var out = [UInt8(payload)]
        for f in message.frames {
            out += [UInt8(f.count & 0xFF), UInt8(f.count >> 8 & 0xFF)]
            out += f
        }
        return out
    }

    static func run(_ bytes: [UInt8]) {
        guard let selector = bytes.first else { return }
        guard let message = try? WireMessage(frames: frames(bytes.dropFirst())) else { return }
        try? payloads[Int(selector) % payloads.count](message)
    }
}
