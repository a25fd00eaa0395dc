/// Arithmetic that reports overflow instead of trapping, for values read from untrusted input (a storyboard's
/// durations) before the trapping operators are allowed to see them.
extension Rational {
    /// `self + other`, or `nil` when an intermediate product or the sum does not fit `Int64`.
    public func addingChecked(_ other: Rational) -> Rational? {
        let (a, o1) = numerator.multipliedReportingOverflow(by: other.denominator)
        let (b, o2) = other.numerator.multipliedReportingOverflow(by: denominator)
        let (n, o3) = a.addingReportingOverflow(b)
        let (d, o4) = denominator.multipliedReportingOverflow(by: other.denominator)
        guard !(o1 || o2 || o3 || o4), n != .min else { return nil }
        return Rational(n, d)
    }

    /// `self - other`, or `nil` when it does not fit `Int64`.
    public func subtractingChecked(_ other: Rational) -> Rational? {
        guard other.numerator != .min else { return nil }
        return addingChecked(Rational(-other.numerator, other.denominator))
    }

    /// `self * other` (cross-reduced first, as `*` does), or `nil` when it does not fit `Int64`.
    public func multipliedChecked(by other: Rational) -> Rational? {
        let g1 = Swift.max(Rational.gcd(Swift.abs(numerator), other.denominator), 1)
        let g2 = Swift.max(Rational.gcd(Swift.abs(other.numerator), denominator), 1)
        let (n, o1) = (numerator / g1).multipliedReportingOverflow(by: other.numerator / g2)
        let (d, o2) = (denominator / g2).multipliedReportingOverflow(by: other.denominator / g1)
        guard !o1, !o2, n != .min else { return nil }
        return Rational(n, d)
    }
}
