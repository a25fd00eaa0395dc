/// Where every shot sits on the film's frame axis.
///
/// Rounding rule: a shot given in seconds starts at the frame nearest to its exact start time (the sum of the
/// durations before it; exact halves round up) and ends where the next one starts, so rounding never accumulates
/// drift over a long film. A shot given in `frames` lasts exactly that many frames.
public struct ShotTimeline: Hashable, Sendable {
    /// One shot's place: its index in the storyboard and its global frame range.
    public struct Span: Hashable, Sendable {
        public var index: Int
        public var id: String
        public var frames: TimeRange
    }

    public let clock: SampleClock
    public let shots: [Span]

    public init(_ spec: JobSpec) {
        clock = spec.output.clock
        var spans: [Span] = []
        var time = Rational(0)
        var frame = 0
        for (i, shot) in spec.shots.enumerated() {
            let end: Int
            switch shot.length {
            case .seconds(let s):
                time = time + s
                end = Swift.max(frame, clock.nearestFrame(to: time))
            case .frames(let n):
                end = frame + n
                time = clock.time(ofFrame: end)
            }
            spans.append(Span(index: i, id: shot.id, frames: TimeRange(frame, end)))
            frame = end
        }
        shots = spans
    }

    public var totalFrames: Int { shots.last?.frames.upper ?? 0 }
    public var totalSamples: Int { clock.sample(atFrame: totalFrames) }
}
