/// A half-open range `[lower, upper)` of global video frames or audio samples.
///
/// One type serves both units; the names at each use (`own`, `samples`) say which.
public struct TimeRange: Hashable, Sendable, Codable, CustomStringConvertible {
    public var lower: Int
    public var upper: Int

    public init(_ lower: Int, _ upper: Int) {
        precondition(lower <= upper, "TimeRange with lower \(lower) > upper \(upper)")
        self.lower = lower
        self.upper = upper
    }

    public var count: Int { upper - lower }
    public var isEmpty: Bool { lower == upper }
    public func contains(_ x: Int) -> Bool { x >= lower && x < upper }

    public var description: String { "[\(lower), \(upper))" }

    // Encoded as a two-element array, as the plan's JSON shows it.
    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        let a = try c.decode(Int.self)
        let b = try c.decode(Int.self)
        guard a <= b else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "range [\(a), \(b)) is reversed")
        }
        self.init(a, b)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(lower)
        try c.encode(upper)
    }
}
