import FarmCore
import FarmWire
import Foundation

/// Runs one assigned task on a thread of its own and hands its outcome to the worker's outbox.
enum TaskExecution {
    /// What a finished task produced: named outputs (bytes) or an error.
    typealias Outcome = Result<[(name: String, data: Data)], any Error>

    static func run(_ assign: Assign, blobs: [Data], engine: any Engine, encoder: any ChunkEncoder,
                    progress: @escaping ProgressHandler) -> Outcome {
        Result {
            if let d = assign.segment {
                let task = try d.task(blobs: blobs)
                let artifact = try SegmentRunner(engine: engine, encoder: encoder).run(task, progress: progress)
                return [("chunk", artifact.chunk.data), ("audio", PCMCodec.encode(artifact.audio)),
                        ("tail", LatentsCodec.encode(artifact.tail))]
            }
            if let d = assign.anchors {
                let task = try d.task(blobs: blobs)
                let latents = try engine.anchors(task, progress: progress)
                guard latents.count == task.frames.count else {
                    throw SegmentRunner.ContractError(description: "\(task.id): engine \(engine.name) returned \(latents.count) anchors for \(task.frames.count) frames")
                }
                return [("anchors", LatentsCodec.encode(latents))]
            }
            throw WireError(.badPayload, "assign carries neither a segment nor an anchor pass")
        }
    }
}

/// Thrown from a task's progress handler once its lease was cancelled: the engine stops at that step.
struct TaskCancelled: Error, CustomStringConvertible {
    var lease: Lease
    var description: String { "lease \(lease) was cancelled" }
}
