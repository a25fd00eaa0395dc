/// Where every shot and every segment join sits in a finished film, in frames and samples: the one place that turns
/// a plan into positions for delivery (OpenTimelineIO, one file per shot) and for the seam report.
///
/// Every sample position comes from the film's ``SampleClock`` applied to a frame boundary, so shot and segment
/// sample ranges tile the audio track exactly, as the assembler laid it down.
public struct FilmLayout: Hashable, Sendable {
    /// One shot: its storyboard fields and its exact place in the film.
    public struct Shot: Hashable, Sendable {
        public var index: Int
        public var id: String
        public var prompt: String
        public var camera: String
        public var sound: String
        public var transition: Transition
        /// Global frames `[lower, upper)`.
        public var frames: TimeRange
        /// Global audio samples (per channel) `[lower, upper)`.
        public var samples: TimeRange
    }

    /// One segment's delivered part of the film.
    public struct Piece: Hashable, Sendable {
        /// The plan's segment id, `<shot id>/<index>`.
        public var id: String
        public var shot: Int
        public var frames: TimeRange
        public var samples: TimeRange
    }

    /// What meets at a join.
    public enum JoinKind: String, Hashable, Sendable {
        /// Two segments of one shot: picture and sound should run on unbroken.
        case inShot = "in-shot"
        /// The start of a shot whose transition is `cut`.
        case cut
        /// The start of a shot whose transition is `continue` (context carried over, but a new prompt and sound).
        case `continue`
    }

    /// The boundary between two consecutive pieces: the first frame and first sample of the later one.
    public struct Join: Hashable, Sendable {
        public var frame: Int
        public var sample: Int
        public var kind: JoinKind
        /// Segment ids before and after.
        public var before: String
        public var after: String
    }

    public let clock: SampleClock
    public let shots: [Shot]
    /// The plan's segments in film order; their ranges tile the film.
    public let pieces: [Piece]
    /// Every boundary between consecutive pieces, in film order.
    public let joins: [Join]
    public let totalFrames: Int
    public let totalSamples: Int

    /// Lays out `plan`, which was made from `spec`.
    public init(spec: JobSpec, plan: Plan) {
        let clock = spec.output.clock
        self.clock = clock
        shots = plan.shots.map { span in
            let shot = spec.shots[span.index]
            return Shot(index: span.index, id: span.id, prompt: shot.prompt, camera: shot.camera, sound: shot.sound,
                        transition: shot.transition, frames: span.frames,
                        samples: clock.samples(forFrames: span.frames))
        }
        pieces = plan.segments.sorted { $0.own.lower < $1.own.lower }.map {
            Piece(id: $0.id, shot: $0.shot, frames: $0.own, samples: clock.samples(forFrames: $0.own))
        }
        var joins: [Join] = []
        for (a, b) in zip(pieces, pieces.dropFirst()) {
            let kind: JoinKind = a.shot == b.shot ? .inShot
                : spec.shots[b.shot].transition == .continue ? .continue : .cut
            joins.append(Join(frame: b.frames.lower, sample: b.samples.lower, kind: kind, before: a.id, after: b.id))
        }
        self.joins = joins
        totalFrames = plan.totalFrames
        totalSamples = plan.totalSamples
    }

    /// The piece that holds global frame `frame`, by binary search; `nil` outside the film.
    public func piece(containingFrame frame: Int) -> Int? {
        Self.index(count: pieces.count, containing: frame) { pieces[$0].frames }
    }

    /// The shot that holds global frame `frame`, by binary search; `nil` outside the film.
    public func shot(containingFrame frame: Int) -> Int? {
        Self.index(count: shots.count, containing: frame) { shots[$0].frames }
    }

    /// Binary search over `count` ascending, tiling ranges.
    private static func index(count: Int, containing frame: Int, _ range: (Int) -> TimeRange) -> Int? {
        var (lo, hi) = (0, count)
        while lo < hi {
            let mid = (lo + hi) / 2
            if range(mid).upper <= frame { lo = mid + 1 } else { hi = mid }
        }
        return lo < count && range(lo).contains(frame) ? lo : nil
    }

    /// Why a decoded film is not the film of this layout, or `nil` when its length matches to the frame and sample.
    /// - Parameters:
    ///   - frames: pictures the film holds.
    ///   - samples: audio samples per channel the film presents.
    public func mismatch(frames: Int, samples: Int, sampleRate: Int, channels: Int, format: OutputFormat) -> String? {
        if frames != totalFrames {
            return "the film has \(frames) frames but the storyboard plans \(totalFrames) "
                + "(is it the film of this storyboard?)"
        }
        if sampleRate != clock.sampleRate || channels != format.channels {
            return "the film's audio is \(sampleRate) Hz × \(channels) channels but the storyboard asks for "
                + "\(clock.sampleRate) Hz × \(format.channels)"
        }
        if samples != totalSamples {
            return "the film has \(samples) audio samples per channel but the storyboard plans \(totalSamples)"
        }
        return nil
    }
}
