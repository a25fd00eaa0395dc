import FarmCore
import FarmWire
import Foundation

/// Everything a worker does with bytes from an engine process, in one call, for the fuzzer and property tests:
/// parse a message, then read it as a handshake, a task note and a segment or anchor result for a fixed task.
public enum EngineInput {
    /// The task results are checked against (9 frames of 64×32, test-card layout).
    static let task = SegmentTask(
        id: "t", shot: ShotBrief(index: 0, id: "s", prompt: "p", camera: "", sound: "", cues: [], frames: TimeRange(0, 100)),
        index: 0, format: OutputFormat(width: 64, height: 32, fps: Rational(24), sampleRate: 48_000, channels: 2),
        generate: TimeRange(0, 9), own: TimeRange(0, 9), samples: TimeRange(0, 18_000), pins: [], seed: 1, steps: 1,
        tailLatents: 2)

    /// Feeds `bytes` through every check; each error is an acceptable answer, a trap is not.
    public static func run(_ bytes: [UInt8]) {
        guard let m = try? EngineMessage.decode(Data(bytes), maxBytes: 1 << 24) else { return }
        if let r = try? m.payload(EngineReady.self) { _ = try? r.validated(as: "testcard") }
        _ = try? m.payload(TaskNote.self)
        _ = try? m.payload(SegmentRequest.self).segment.task(blobs: m.blobs)
        let g = EngineGeometry(latentChannels: 8, maxWindow: 33)
        _ = try? ProcessEngine.segmentResult(m, task: task, tailSteps: 2, shapes: g.stepShapes(for: task.format), engine: "fuzz")
    }

    /// Valid messages of every kind a worker receives, as seeds.
    public static func seeds() -> [[UInt8]] {
        let ready = EngineMessage(.ready, EngineReady(engine: "testcard", version: "1", device: "cuda:0", deviceMemoryBytes: 1 << 30,
                                                      geometry: EngineGeometry(temporalStride: 8, spatialStride: 32, latentChannels: 128,
                                                                               maxWindow: 121, stepLayout: LatentStepLayout(spatial: true, audio: [20, 8, 4]),
                                                                               spatialMultiple: 32, nativeAudioRate: 24_000)))
        let tail = Latents(video: LatentTensor(shape: [2, 8, 1, 1], values: (0..<16).map(Float.init)), audio: LatentTensor(shape: [2, 0]))
        let result = EngineMessage(.result, TaskNote(task: "t", seconds: 0.5),
                                   blobs: [LatentsCodec.encode(tail), Data(count: 9 * 64 * 32 * 3), Data(count: 18_000 * 8)])
        let (d, blobs) = SegmentDescription.make(task)
        let segment = EngineMessage(.segment, SegmentRequest(model: ModelDescription(ModelSpec(
            engine: "testcard", window: 9, overlap: 5, steps: 1, seed: 1, schedule: .chain)), segment: d), blobs: blobs)
        return [ready, result, segment, EngineMessage(.progress, TaskNote(task: "t", done: 1, total: 2)),
                EngineMessage(.failed, TaskNote(task: "t", message: "out of memory"))].map { [UInt8]($0.bytes) }
    }
}
