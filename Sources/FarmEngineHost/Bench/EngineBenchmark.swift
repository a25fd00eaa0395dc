import FarmCore
import FarmWire
import Foundation

/// What an engine process costs beyond its own compute: the handshake, and per task the time to move the task in
/// and its tail, frames and sound out (wall time of the task at the worker minus the seconds the engine reports).
public struct EngineBenchmark: Sendable {
    public var command: EngineCommand
    public var model: ModelDescription
    public var format: OutputFormat
    public var frames: Int
    public var tasks: Int

    public init(command: EngineCommand, model: ModelDescription, format: OutputFormat, frames: Int, tasks: Int) {
        self.command = command
        self.model = model
        self.format = format
        self.frames = frames
        self.tasks = tasks
    }

    /// One task's figures.
    public struct TaskTiming: Sendable {
        public var wallSeconds: Double
        public var engineSeconds: Double
        public var bytesMoved: Int
        public var overheadSeconds: Double { max(0, wallSeconds - engineSeconds) }
    }

    public struct Result: Sendable {
        public var ready: EngineReady
        public var handshakeSeconds: Double
        public var timings: [TaskTiming]

        /// The median overhead of the tasks after the first (the first also warms the model up).
        public var overheadSeconds: Double { Self.median(timings.dropFirst().map(\.overheadSeconds)) }
        public var engineSeconds: Double { Self.median(timings.dropFirst().map(\.engineSeconds)) }

        static func median(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.sorted()[v.count / 2] }
    }

    /// Starts the engine, then runs `tasks` segments of `frames` frames, each pinned on the previous one's tail (the
    /// overlap is one latent step past the first), checking every result as a worker does.
    /// - Throws: the engine's or the contract's error.
    public func run(log: @escaping @Sendable (String) -> Void) throws -> Result {
        var settings = EngineHostSettings()
        settings.log = log
        let pool = EngineProcessPool(command: command, slots: 1, settings: settings)
        defer { pool.stop() }
        let t0 = EngineChannel.now()
        let (ready, geometry) = try pool.warmUp()
        let handshake = EngineChannel.now() - t0
        let stride = geometry.temporalStride
        let overlap = 1 + stride
        let tailSteps = geometry.latentCount(forFrames: overlap)
        let shot = ShotBrief(index: 0, id: "bench", prompt: "A lobster legion marches across a neon seabed at dusk",
                             camera: "slow dolly forward", sound: "deep sub-bass drone with clicking shells", cues: [],
                             frames: TimeRange(0, frames + (tasks - 1) * (frames - overlap)))
        var timings: [TaskTiming] = []
        var tail: Latents?
        for i in 0..<tasks {
            let start = i * (frames - overlap)
            let generate = TimeRange(start, start + frames)
            let own = i == 0 ? generate : TimeRange(start + overlap, start + frames)
            let task = SegmentTask(id: "bench/\(i)", shot: shot, index: i, format: format, generate: generate, own: own,
                                   samples: format.clock.samples(forFrames: own),
                                   pins: tail.map { [LatentPin(latentIndex: 0, latents: $0)] } ?? [], seed: model.seed,
                                   steps: model.steps, tailLatents: tailSteps)
            let (d, blobs) = SegmentDescription.make(task)
            let request = EngineMessage(.segment, SegmentRequest(model: model, segment: d), blobs: blobs)
            let shapes = geometry.stepShapes(for: format)
            let limit = own.count * format.width * format.height * 3 + task.samples.count * format.channels * 4 + (64 << 20)
            let t1 = EngineChannel.now()
            let m = try pool.withProcess { try $0.run(request, task: task.id, maxBytes: limit) { _, _ in } }
            let result = try ProcessEngine.segmentResult(m, task: task, tailSteps: tailSteps, shapes: shapes, engine: command.name)
            let wall = EngineChannel.now() - t1
            let seconds = (try? m.payload(TaskNote.self))?.seconds ?? wall
            let moved = request.meta.count + blobs.reduce(0) { $0 + $1.count } + m.meta.count + m.blobs.reduce(0) { $0 + $1.count }
            timings.append(TaskTiming(wallSeconds: wall, engineSeconds: seconds, bytesMoved: moved))
            log(String(format: "task %d: %.3f s at the worker, %.3f s in the engine, %.1f MB moved", i, wall, seconds,
                       Double(moved) / 1e6))
            tail = result.tail
        }
        return Result(ready: ready, handshakeSeconds: handshake, timings: timings)
    }
}
