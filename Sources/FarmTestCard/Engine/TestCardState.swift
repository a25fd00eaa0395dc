import FarmCore

/// The test card's latent: a bouncing ball and a tone oscillator, all in exact integers.
///
/// Positions are in 1/16 pixel, the tone phase is a 32-bit accumulator. Every field is an integer below 2^24 (the
/// phase is split in two 16-bit halves) so it survives a round trip through a Float32 latent bit for bit.
struct TestCardState: Equatable {
    static let channels = 8
    static let subpixel: Int64 = 16

    var x: Int64
    var y: Int64
    var vx: Int64
    var vy: Int64
    var phase: UInt32
    /// Global frame this state is for (debugging aid; also shows a misplaced context in a latent dump).
    var frame: Int64
    /// Shot whose tone the phase last advanced with.
    var shot: Int64

    /// Start state drawn from `seed`: anywhere in the picture, moving at 1/40 to 1/25 of the width per frame.
    init(seed: UInt64, box: Box, frame: Int, shot: Int) {
        var rng = SplitMix(seed)
        x = box.minX + Int64(rng.next() % UInt64(box.maxX - box.minX + 1))
        y = box.minY + Int64(rng.next() % UInt64(box.maxY - box.minY + 1))
        let speed = Int64(box.width) * Self.subpixel / 40 + Int64(rng.next() % UInt64(max(1, box.width * 16 / 60)))
        vx = (rng.next() & 1 == 0 ? 1 : -1) * speed
        vy = (rng.next() & 1 == 0 ? 1 : -1) * (speed * Int64(3 + rng.next() % 5) / 8)
        phase = UInt32(truncatingIfNeeded: rng.next())
        self.frame = Int64(frame)
        self.shot = Int64(shot)
    }

    init(latent values: ArraySlice<Float>) {
        let v = Array(values)
        x = Int64(v[0])
        y = Int64(v[1])
        vx = Int64(v[2])
        vy = Int64(v[3])
        phase = UInt32(v[4]) << 16 | UInt32(v[5])
        frame = Int64(v[6])
        shot = Int64(v[7])
    }

    var latent: [Float] {
        [Float(x), Float(y), Float(vx), Float(vy), Float(phase >> 16), Float(phase & 0xFFFF), Float(frame), Float(shot)]
    }

    /// The ball's allowed centre positions, in 1/16 pixel: inside the picture, below the frame-number band.
    struct Box {
        var width: Int
        var minX: Int64, maxX: Int64, minY: Int64, maxY: Int64
        init(width: Int, height: Int, radius: Int) {
            self.width = width
            minX = Int64(radius) * subpixel
            maxX = Int64(width - radius) * subpixel
            minY = Int64(TestCardPattern.bandRows + radius) * subpixel
            maxY = Int64(height - radius) * subpixel
        }
    }

    /// Advances one frame: the ball moves and bounces, the phase runs over the frame's samples.
    mutating func step(box: Box, clock: SampleClock, increment: UInt32) {
        func bounce(_ p: inout Int64, _ v: inout Int64, _ lo: Int64, _ hi: Int64) {
            p += v
            if p < lo { p = 2 * lo - p; v = -v }
            if p > hi { p = 2 * hi - p; v = -v }
            p = min(max(p, lo), hi)
        }
        bounce(&x, &vx, box.minX, box.maxX)
        bounce(&y, &vy, box.minY, box.maxY)
        let f = Int(frame)
        let samples = clock.sample(atFrame: f + 1) - clock.sample(atFrame: f)
        phase = phase &+ increment &* UInt32(truncatingIfNeeded: samples)
        frame += 1
    }
}

/// SplitMix64: a small, fixed, portable generator for seeded start states.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return SeedDerivation.mix(state &- 0x9E37_79B9_7F4A_7C15)
    }
}
