import FarmCore
import Foundation

/// Renders a job inside one process: plan → engine → chunks → one MP4. The farm does the same work spread over
/// workers; both build tasks through ``JobContext`` and ``SegmentRunner``, so the films are identical.
public struct LocalRenderer: Sendable {
    public var runner: SegmentRunner
    public var assembler: any FilmAssembler
    /// Segments generated at once.
    public var jobs: Int
    public var progress: (any RenderProgress)?
    /// Deliberate mistakes (tests only).
    public var faults: Set<RenderFault>

    public init(runner: SegmentRunner, assembler: any FilmAssembler, jobs: Int, progress: (any RenderProgress)? = nil,
                faults: Set<RenderFault> = []) {
        self.runner = runner
        self.assembler = assembler
        self.jobs = jobs
        self.progress = progress
        self.faults = faults
    }

    /// What a render did and how long each stage took.
    public struct Report: Sendable {
        public var segments: Int
        public var frames: Int
        public var samples: Int
        public var generateSeconds: Double
        public var assembleSeconds: Double
    }

    /// Renders `job` into the MP4 file `output` (written only when everything succeeded).
    public func render(_ job: JobContext, to output: URL) throws -> Report {
        let plan = job.plan
        let results = Results()
        let priorities = plan.remainingPath
        let tasks = plan.tasks.map { DAGExecutor.Task(id: $0.id, dependsOn: $0.dependsOn, priority: priorities[$0.id] ?? 0) }
        let segments = Dictionary(uniqueKeysWithValues: plan.segments.map { ($0.id, $0) })
        let passes = Dictionary(uniqueKeysWithValues: plan.anchors.map { ($0.id, $0) })
        let dropContextOf = faults.contains(.dropContext) ? plan.segments.first(where: { $0.context != nil || $0.index > 0 })?.id : nil
        let breakJoinOf = faults.contains(.breakJoin) ? plan.segments.first(where: { $0.index > 0 })?.id : nil
        let breaking = SegmentRunner(engine: JoinBreakingEngine(inner: runner.engine), encoder: runner.encoder)
        let tracker = Tracker(total: tasks.count, frames: plan.totalFrames, progress: progress)
        let started = Date()
        let runner = self.runner
        defer { progress?.finish() }
        try DAGExecutor(threads: jobs).run(tasks) { id in
            if let pass = passes[id] {
                let task = try job.anchorTask(pass, anchors: results.anchors)
                let latents = try runner.engine.anchors(task) { _, _ in }
                results.put(anchors: latents, for: id)
                tracker.done(frames: 0, stage: id)
                return
            }
            guard let segment = segments[id] else { return }
            var task = try job.segmentTask(segment, tail: results.tail, anchors: results.anchors)
            if id == dropContextOf { task.pins = Array(task.pins.dropFirst()) }
            tracker.started(stage: id)
            let artifact = try (id == breakJoinOf ? breaking : runner).run(task) { step, steps in
                tracker.step(stage: "\(id) step \(step)/\(steps)")
            }
            results.put(artifact, for: id)
            tracker.done(frames: segment.own.count, stage: id)
        }
        let generated = Date()
        tracker.started(stage: "assembling")
        let ordered = plan.segments.sorted { $0.own.lower < $1.own.lower }
        var film = FilmInMemory(chunks: [], audio: [])
        var frame = 0, sample = 0
        for segment in ordered {
            // Owned ranges must tile the film and the track; anything else is a planner bug, not a user error.
            precondition(segment.own.lower == frame && segment.samples.lower == sample, "\(segment.id) does not tile")
            let artifact = results.artifact(segment.id)!
            film.chunks.append(artifact.chunk)
            film.audio.append(artifact.audio)  // the segments' PCM in film order, not copied into one buffer
            frame = segment.own.upper
            sample = segment.samples.upper
        }
        for case .shiftAudio(let n) in faults {
            var audio = PCMBuffer(channels: job.spec.output.channels, samples: film.audio.flatMap(\.samples))
            let shift = max(0, min(n, audio.frameCount)) * audio.channels
            audio.samples = Array(repeating: 0, count: shift) + audio.samples.dropLast(shift)
            film.audio = [audio]
        }
        try assembler.assemble(film, format: job.spec.output, to: output)
        let end = Date()
        return Report(segments: plan.segments.count, frames: plan.totalFrames, samples: plan.totalSamples,
                      generateSeconds: generated.timeIntervalSince(started), assembleSeconds: end.timeIntervalSince(generated))
    }

    /// Finished outputs, shared by the render threads.
    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var artifacts: [String: SegmentArtifact] = [:]
        private var passes: [String: Latents] = [:]

        func put(_ a: SegmentArtifact, for id: String) { lock.withLock { artifacts[id] = a } }
        func put(anchors: Latents, for id: String) { lock.withLock { passes[id] = anchors } }
        func artifact(_ id: String) -> SegmentArtifact? { lock.withLock { artifacts[id] } }
        func tail(_ id: String) -> Latents? { lock.withLock { artifacts[id]?.tail } }
        func anchors(_ id: String) -> Latents? { lock.withLock { passes[id] } }
    }

    /// Counts finished tasks and frames for the progress display.
    private final class Tracker: @unchecked Sendable {
        private let lock = NSLock()
        private var snapshot: RenderSnapshot
        private let progress: (any RenderProgress)?

        init(total: Int, frames: Int, progress: (any RenderProgress)?) {
            snapshot = RenderSnapshot(tasksDone: 0, tasksTotal: total, framesDone: 0, framesTotal: frames, stage: "starting")
            self.progress = progress
        }

        func started(stage: String) { report { $0.stage = stage } }
        func step(stage: String) { report { $0.stage = stage } }
        func done(frames: Int, stage: String) {
            report {
                $0.tasksDone += 1
                $0.framesDone += frames
                $0.stage = "\(stage) done"
            }
        }

        private func report(_ change: (inout RenderSnapshot) -> Void) {
            guard let progress else { return }
            let s: RenderSnapshot = lock.withLock {
                change(&snapshot)
                return snapshot
            }
            progress.update(s)
        }
    }
}
