/// Deliberate mistakes the renderer can make, so tests can show that `verify` catches them. Test-only: the CLI
/// exposes them through a hidden `--inject-fault` option.
public enum RenderFault: Hashable, Sendable {
    /// The first segment that has a context is generated without it (starts from its seed).
    case dropContext
    /// The audio timeline is delayed by this many samples (silence in front, the end cut off).
    case shiftAudio(samples: Int)

    /// The first segment that continues a shot from inside it (index > 0) comes out broken: its picture inverted
    /// and its sound offset by a quarter of full scale, so its join with the segment before is a visible and
    /// audible seam (what `reelfarm inspect` exists to find).
    case breakJoin

    /// Parses `drop-context`, `break-join` or `shift-audio:SAMPLES`.
    public init?(argument: String) {
        if argument == "drop-context" { self = .dropContext; return }
        if argument == "break-join" { self = .breakJoin; return }
        if argument.hasPrefix("shift-audio:"), let n = Int(argument.dropFirst("shift-audio:".count)) {
            self = .shiftAudio(samples: n)
            return
        }
        return nil
    }
}
