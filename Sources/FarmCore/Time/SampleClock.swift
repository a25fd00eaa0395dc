/// The film's exact clock: maps video frames to the audio samples they start at.
///
/// Every audio range in reelfarm is derived from frame boundaries through ``sample(atFrame:)``, so the ranges of
/// consecutive frames tile the audio track with no gap and no overlap, and the sync error anywhere is under one
/// sample whatever the length of the film.
public struct SampleClock: Hashable, Sendable {
    /// Frames per second, exact (`24`, `30000/1001`).
    public let fps: Rational
    /// Audio samples per second (per channel).
    public let sampleRate: Int

    public init(fps: Rational, sampleRate: Int) {
        precondition(fps.isPositive && sampleRate > 0)
        self.fps = fps
        self.sampleRate = sampleRate
    }

    /// The first audio sample of video frame `frame`: `floor(frame · sampleRate · fps_den / fps_num)`.
    public func sample(atFrame frame: Int) -> Int {
        let n = Int64(frame).multipliedFullWidth(by: Int64(sampleRate) * fps.denominator)
        let (q, r) = fps.numerator.dividingFullWidth(n)
        return Int(r < 0 ? q - 1 : q)
    }

    /// The audio samples that belong to the frames in `frames`.
    public func samples(forFrames frames: TimeRange) -> TimeRange {
        TimeRange(sample(atFrame: frames.lower), sample(atFrame: frames.upper))
    }

    /// The frame whose display interval contains the instant `time` (seconds): `floor(time · fps)`.
    public func frame(containing time: Rational) -> Int {
        Int((time * fps).floor)
    }

    /// The frame nearest to the instant `time` (exact halves round up). Used to place shot boundaries.
    public func nearestFrame(to time: Rational) -> Int {
        Int((time * fps).roundedHalfUp)
    }

    /// Exact time at which `frame` starts.
    public func time(ofFrame frame: Int) -> Rational {
        Rational(Int64(frame) * fps.denominator, fps.numerator)
    }
}
