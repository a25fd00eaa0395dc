extension JobSpec {
    /// Whether ``ShotTimeline`` and the checks that use it can run on `spec` without overflowing `Int64`.
    ///
    /// It repeats the timeline's exact arithmetic (running sum of durations, nearest frame, frame start times and
    /// each shot's length in seconds) with overflow-reporting operations: durations such as `1/999983` and
    /// `1/999979` are each valid, yet their exact sum needs a denominator beyond 64 bits.
    /// - Returns: the index of the first shot whose place cannot be computed, or `nil` when all can.
    static func firstShotOverflowingTimeline(_ spec: JobSpec) -> Int? {
        let fps = spec.output.fps
        func start(ofFrame frame: Int) -> Rational? {
            let (n, overflow) = Int64(frame).multipliedReportingOverflow(by: fps.denominator)
            return overflow || n == .min ? nil : Rational(n, fps.numerator)
        }
        guard fps.isPositive, fps.numerator != .min else { return 0 }
        var time = Rational(0)
        var frame = 0
        for (i, shot) in spec.shots.enumerated() {
            let end: Int
            switch shot.length {
            case .seconds(let s):
                guard let t = time.addingChecked(s), let scaled = t.multipliedChecked(by: fps),
                      let rounded = scaled.addingChecked(Rational(1, 2)) else { return i }
                time = t
                end = Swift.max(frame, Int(rounded.floor))
            case .frames(let n):
                let (e, overflow) = frame.addingReportingOverflow(n)
                guard !overflow, let t = start(ofFrame: e) else { return i }
                end = e
                time = t
            }
            guard end >= frame, let a = start(ofFrame: frame), let b = start(ofFrame: end),
                  b.subtractingChecked(a) != nil else { return i }
            frame = end
        }
        return nil
    }
}
