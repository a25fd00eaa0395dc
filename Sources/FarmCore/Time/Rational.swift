import Foundation

/// An exact, always-reduced fraction with a positive denominator.
///
/// Frame rates, sample rates and storyboard durations are rationals so that no `Double` ever decides a frame or a
/// sample boundary. Arithmetic traps on overflow of `Int64`, which the spec limits keep far away.
public struct Rational: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let numerator: Int64
    public let denominator: Int64

    /// Creates `numerator / denominator`, reduced.
    /// - Precondition: `denominator != 0`.
    public init(_ numerator: Int64, _ denominator: Int64 = 1) {
        precondition(denominator != 0, "Rational with zero denominator")
        let sign: Int64 = denominator < 0 ? -1 : 1
        let g = Rational.gcd(Swift.abs(numerator), Swift.abs(denominator))
        self.numerator = sign * numerator / Swift.max(g, 1)
        self.denominator = sign * denominator / Swift.max(g, 1)
    }

    public init(_ value: Int) { self.init(Int64(value), 1) }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    public static func + (l: Rational, r: Rational) -> Rational {
        Rational(l.numerator * r.denominator + r.numerator * l.denominator, l.denominator * r.denominator)
    }
    public static func - (l: Rational, r: Rational) -> Rational {
        Rational(l.numerator * r.denominator - r.numerator * l.denominator, l.denominator * r.denominator)
    }
    public static func * (l: Rational, r: Rational) -> Rational {
        let g1 = Swift.max(gcd(Swift.abs(l.numerator), r.denominator), 1)
        let g2 = Swift.max(gcd(Swift.abs(r.numerator), l.denominator), 1)
        return Rational((l.numerator / g1) * (r.numerator / g2), (l.denominator / g2) * (r.denominator / g1))
    }
    public static func < (l: Rational, r: Rational) -> Bool {
        l.numerator.multipliedFullWidth(by: r.denominator) < r.numerator.multipliedFullWidth(by: l.denominator)
    }

    /// The largest integer not greater than this value.
    public var floor: Int64 {
        let q = numerator / denominator
        return (numerator % denominator != 0 && numerator < 0) ? q - 1 : q
    }

    /// The nearest integer; exact halves round up (towards +∞).
    public var roundedHalfUp: Int64 { (self + Rational(1, 2)).floor }

    public var isPositive: Bool { numerator > 0 }

    /// `"24"` or `"30000/1001"`.
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    /// Approximate value, for display only.
    public var approximation: Double { Double(numerator) / Double(denominator) }
}

extension Rational {
    /// Parses `"24"`, `"30000/1001"`, `"4.5"`, `"-2"` or `"1e3"`-free decimals exactly.
    /// - Returns: `nil` when the text is not one of those forms or does not fit.
    public init?(parsing text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let slash = text.firstIndex(of: "/") {
            guard let n = Int64(text[..<slash].trimmingCharacters(in: .whitespaces)),
                  let d = Int64(text[text.index(after: slash)...].trimmingCharacters(in: .whitespaces)),
                  // Int64.min has no positive counterpart: reducing or normalizing its sign would trap.
                  d != 0, n != .min, d != .min else { return nil }
            self.init(n, d)
            return
        }
        var body = Substring(text)
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !parts.isEmpty, parts.count <= 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              !(parts[0].isEmpty && (parts.count == 1 || parts[1].isEmpty)) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 12, parts[0].count <= 12 else { return nil }
        let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0]))!
        var scale: Int64 = 1
        for _ in 0..<fraction.count { scale *= 10 }
        let frac = fraction.isEmpty ? 0 : Int64(String(fraction))!
        // Twelve digits each side fit Int64 alone, not always together (`999999999999.999999999999`).
        let (shifted, o1) = whole.multipliedReportingOverflow(by: scale)
        let (n, o2) = shifted.addingReportingOverflow(frac)
        guard !o1, !o2 else { return nil }
        self.init(negative ? -n : n, scale)
    }
}
