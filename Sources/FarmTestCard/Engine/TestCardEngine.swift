import FarmCore

/// A deterministic, cheap engine whose output makes mistakes visible (`engine: testcard`).
///
/// Its latents carry state (a bouncing ball, a tone's phase); a segment with context continues from the context
/// latents, one without starts from its seed, so a wrong or missing context shows as a jump in the ball and a
/// click in the sound. Every frame carries its global frame number in its top rows, the frame that contains each
/// whole second flashes white, and each whole second starts a 1 kHz burst at exactly sample `k · sampleRate`.
public struct TestCardEngine: Engine {
    public let name = "testcard"
    public let geometry = EngineGeometry(temporalStride: 4, spatialStride: 8, latentChannels: TestCardState.channels,
                                         maxWindow: SpecLimits.window.upperBound)

    public init() {}

    /// An error for a task the test card cannot make.
    public struct TaskError: Error, CustomStringConvertible {
        public var description: String
    }

    public func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult {
        let g = geometry
        guard g.isAligned(task.generate.count), task.generate.count <= g.maxWindow else {
            throw TaskError(description: "\(task.id): generate range \(task.generate) is not 1 + 4k frames ≤ \(g.maxWindow)")
        }
        guard task.generate.lower <= task.own.lower, task.own.upper <= task.generate.upper else {
            throw TaskError(description: "\(task.id): owned range \(task.own) is outside generated \(task.generate)")
        }
        let format = task.format
        let box = TestCardState.Box(width: format.width, height: format.height,
                                    radius: TestCardPattern.ballRadius(height: format.height))
        let clock = format.clock
        let increment = Self.increment(shot: task.shot.index, sampleRate: format.sampleRate)
        let count = g.latentCount(forFrames: task.generate.count)
        var pinned = [TestCardState?](repeating: nil, count: count)
        for pin in task.pins {
            for t in 0..<pin.latents.count where pin.latentIndex + t < count && pin.latentIndex + t >= 0 {
                try Self.checkLayout(pin.latents, task.id)
                let s = pin.latents.video.stride0
                pinned[pin.latentIndex + t] = TestCardState(latent: pin.latents.video.values[t * s ..< (t + 1) * s])
            }
        }
        // Denoising stands in as `steps` passes that settle the latents; the test card converges at once.
        var states: [TestCardState] = []
        for step in 1...max(task.steps, 1) {
            states = []
            var current = pinned[0] ?? TestCardState(seed: task.seed, box: box, frame: task.generate.lower, shot: task.shot.index)
            for j in 0..<count {
                if j > 0 {
                    for _ in 0..<g.temporalStride { current.step(box: box, clock: clock, increment: increment) }
                    if let p = pinned[j] { current = p }
                }
                states.append(current)
            }
            try progress(step, max(task.steps, 1))
        }
        let latents = Self.latents(states)
        let painter = TestCardPainter(format: format, shot: task.shot.index)
        var frames = VideoFrames(width: format.width, height: format.height)
        var audio = PCMBuffer(channels: format.channels)
        audio.samples.reserveCapacity(task.samples.count * format.channels)
        for frame in task.own.lower..<task.own.upper {
            let local = frame - task.generate.lower
            var state = states[local / g.temporalStride]
            for _ in 0..<(local % g.temporalStride) { state.step(box: box, clock: clock, increment: increment) }
            painter.draw(frame: frame, state: state, clock: clock, into: &frames)
            painter.play(frame: frame, phase: state.phase, increment: increment, clock: clock, into: &audio)
        }
        let tail = latents.slice(count - min(task.tailLatents, count) ..< count)
        return SegmentResult(latents: latents, frames: frames, audio: audio, tail: tail)
    }

    public func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents {
        guard let first = task.frames.first, task.frames == task.frames.sorted() else {
            throw TaskError(description: "\(task.id): anchor frames must be a non-empty ascending list")
        }
        let format = task.format
        let box = TestCardState.Box(width: format.width, height: format.height,
                                    radius: TestCardPattern.ballRadius(height: format.height))
        let increment = Self.increment(shot: task.shot.index, sampleRate: format.sampleRate)
        var state = TestCardState(seed: task.seed, box: box, frame: first, shot: task.shot.index)
        if let start = task.start {
            try Self.checkLayout(start, task.id)
            state = TestCardState(latent: start.video.values[(start.count - 1) * start.video.stride0 ..< start.count * start.video.stride0])
        }
        var out: [TestCardState] = []
        for f in task.frames {
            while state.frame < f { state.step(box: box, clock: format.clock, increment: increment) }
            out.append(state)
        }
        try progress(1, 1)
        return Self.latents(out)
    }

    static func increment(shot: Int, sampleRate: Int) -> UInt32 {
        UInt32((UInt64(TestCardPattern.toneHertz(shot: shot)) << 32) / UInt64(sampleRate))
    }

    static func latents(_ states: [TestCardState]) -> Latents {
        Latents(video: LatentTensor(shape: [states.count, TestCardState.channels, 1, 1], values: states.flatMap(\.latent)),
                audio: LatentTensor(shape: [states.count, 0]))
    }

    static func checkLayout(_ l: Latents, _ id: String) throws {
        guard l.video.shape.count == 4, l.video.stride0 == TestCardState.channels else {
            throw TaskError(description: "\(id): pinned latents have shape \(l.video.shape), not [T, \(TestCardState.channels), 1, 1]")
        }
    }
}
