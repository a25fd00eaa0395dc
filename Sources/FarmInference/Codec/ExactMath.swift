/// Integer arithmetic that never rounds: the sample and token boundaries of the audio timeline come from here.
enum ExactMath {
    /// `floor((a·b + c) / d)` and the non-negative remainder, for `d > 0`, over 128-bit intermediates.
    static func floorDivide(
        _ a: Int64, times b: Int64, plus c: Int64, by d: Int64
    ) -> (quotient: Int64, remainder: Int64) {
        precondition(d > 0)
        let p = a.multipliedFullWidth(by: b)
        // Add c as a sign-extended 128-bit value.
        let (low, carry) = p.low.addingReportingOverflow(UInt64(bitPattern: c))
        let high = p.high &+ (c < 0 ? -1 : 0) &+ (carry ? 1 : 0)
        var (q, r) = d.dividingFullWidth((high: high, low: low))
        if r < 0 {
            q -= 1
            r += d
        }
        return (q, r)
    }
}
