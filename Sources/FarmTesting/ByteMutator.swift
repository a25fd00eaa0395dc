/// Seeded random mutations of a valid input, for the property tests that keep every parser from trapping on
/// hostile bytes between runs of `Scripts/fuzz` (a cheap stand-in: no coverage feedback, but reproducible).
public struct ByteMutator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// SplitMix64.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    /// Values that sit on the edges size and count fields are checked against.
    static let edges: [UInt64] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                  1 << 31, 1 << 32, 1 << 62, UInt64(Int64.max), UInt64(bitPattern: Int64.min),
                                  UInt64.max, UInt64.max - 1]

    /// `input` with one to four random edits: bit flips, edge values written as 1, 2, 4 or 8 little-endian bytes,
    /// inserted, deleted or duplicated runs, and (`tokens`) pieces of text spliced in.
    public mutating func mutate(_ input: [UInt8], tokens: [String] = []) -> [UInt8] {
        var b = input
        for _ in 0 ... below(4) {
            switch below(tokens.isEmpty ? 6 : 8) {
            case 0 where !b.isEmpty:
                b[below(b.count)] ^= UInt8(1) << UInt8(below(8))
            case 1 where !b.isEmpty:
                let width = [1, 2, 4, 8][below(4)]
                let at = below(b.count)
                let v = Self.edges[below(Self.edges.count)]
                for i in 0 ..< width where at + i < b.count { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            case 2:
                let at = below(b.count + 1)
                b.insert(contentsOf: (0 ..< 1 + below(8)).map { _ in UInt8(truncatingIfNeeded: next()) }, at: at)
            case 3 where !b.isEmpty:
                let at = below(b.count)
                b.removeSubrange(at ..< min(b.count, at + 1 + below(16)))
            case 4 where !b.isEmpty:
                let at = below(b.count)
                let run = Array(b[at ..< min(b.count, at + 1 + below(32))])
                b.insert(contentsOf: run, at: below(b.count + 1))
            case 5 where !b.isEmpty:
                b.removeSubrange(below(b.count)...)
            case 6, 7:
                let token = tokens[below(tokens.count)]
                let at = below(b.count + 1)
                b.insert(contentsOf: Array(token.utf8), at: at)
            default:
                b.append(UInt8(truncatingIfNeeded: next()))
            }
        }
        return b
    }
}
