/// A bound on how deeply a YAML or JSON document nests, computed from its text before Yams composes it. libyaml
/// stops at 1000 levels, but Yams composes recursively, one Swift frame pair per level, and 999 levels overflow a
/// 512 KiB thread stack (measured under AddressSanitizer with `[[[…]]]`; 254 levels already do there).
///
/// The bound errs high, never low: every `[` or `{` counts as opened (even inside a quoted string), and a line's
/// block nesting is at most two levels (a mapping and a sequence at the same indentation) per character of its
/// leading run of spaces and block indicators (`-`, `?`, `:`), which is the only way block collections nest.
enum SpecNesting {
    /// Deepest nesting bound a storyboard may have: real ones nest under 10 levels, and their bound (which counts
    /// indentation) stays under 64.
    static let maxDepth = 128

    /// A number at least as large as the document's nesting depth.
    static func depthBound(_ text: String) -> Int {
        var flow = 0, deepest = 0
        var atLineStart = true, prefix = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                atLineStart = true
                prefix = 0
                continue
            }
            if atLineStart {
                switch c {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
                    prefix += 1
                default:
                    atLineStart = false
                }
            }
            switch c {
            case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
            default: break
            }
            deepest = max(deepest, flow + 2 * (prefix + 1))
        }
        return deepest
    }
}
