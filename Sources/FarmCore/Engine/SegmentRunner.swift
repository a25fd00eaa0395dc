/// What one finished segment leaves behind: its encoded chunk, its PCM and the tail latents a follower needs.
public struct SegmentArtifact: Sendable, Equatable {
    public var chunk: EncodedChunk
    public var audio: PCMBuffer
    public var tail: Latents

    public init(chunk: EncodedChunk, audio: PCMBuffer, tail: Latents) {
        self.chunk = chunk
        self.audio = audio
        self.tail = tail
    }
}

/// Runs a segment through an engine and encodes its frames: the unit of work a worker does.
public struct SegmentRunner: Sendable {
    public let engine: any Engine
    public let encoder: any ChunkEncoder

    public init(engine: any Engine, encoder: any ChunkEncoder) {
        self.engine = engine
        self.encoder = encoder
    }

    /// The engine broke its contract (wrong number of frames, samples or tail latents).
    public struct ContractError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Generates and encodes `task`.
    /// - Throws: the engine's or encoder's error, or ``ContractError`` when the engine's output does not match
    ///   the task's owned frames and samples.
    public func run(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentArtifact {
        let result = try engine.generate(task, progress: progress)
        let f = task.format
        guard result.frames.count == task.own.count, result.frames.width == f.width, result.frames.height == f.height else {
            throw ContractError(description: "\(task.id): engine \(engine.name) returned \(result.frames.count) frames of "
                + "\(result.frames.width)×\(result.frames.height), task owns \(task.own.count) of \(f.width)×\(f.height)")
        }
        guard result.audio.channels == f.channels, result.audio.frameCount == task.samples.count else {
            throw ContractError(description: "\(task.id): engine \(engine.name) returned \(result.audio.frameCount) samples × "
                + "\(result.audio.channels) channels, task owns \(task.samples.count) × \(f.channels)")
        }
        guard result.tail.count == min(task.tailLatents, result.latents.count) else {
            throw ContractError(description: "\(task.id): engine \(engine.name) returned \(result.tail.count) tail latents, "
                + "task asks for \(task.tailLatents)")
        }
        let chunk = try encoder.encode(result.frames, format: f)
        return SegmentArtifact(chunk: chunk, audio: result.audio, tail: result.tail)
    }
}
