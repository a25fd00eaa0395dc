/// Derives per-task seeds from the job seed, the shot id and the task's index, so that a task re-run anywhere
/// (another worker, after a restart) gets the same seed. Uses only fixed-width integer mixing, never `Hasher`,
/// whose values change from process to process.
public enum SeedDerivation {
    /// SplitMix64 finaliser.
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// FNV-1a over the UTF-8 bytes of `text`.
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in text.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    /// Seed of task `index` of shot `shotID` (the anchor pass uses index -1).
    public static func seed(job: UInt64, shotID: String, index: Int) -> UInt64 {
        mix(mix(job) ^ mix(fnv1a(shotID)) ^ mix(UInt64(bitPattern: Int64(index)) &+ 0x5EED))
    }
}
