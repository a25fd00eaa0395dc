import FarmCore

/// Maps one call's audio latents onto the film's samples, exactly.
///
/// Local time is in video frames from the call's first frame (`firstFrame`, global). Audio latent `k` (counting
/// across steps, `A` per step) starts at local time `4k/A - 3` and lasts `4/A` frames, so step `j`'s latents tile
/// the four frames `[4j - 3, 4j + 1)` that video latent `j` stands for (step 0 reaches three frames before the
/// call: its pre-roll is never played). A sample's place on that axis is a rational number; it is computed with
/// integers, so at 30000/1001 fps, where a frame is 1601.6 samples at 48 kHz, no boundary ever drifts. Token
/// boundaries fall on samples as frame boundaries do in ``SampleClock``: `floor(instant · rate)`.
public struct AudioTimeline: Sendable {
    public let clock: SampleClock
    /// Global frame at local time 0.
    public let firstFrame: Int
    /// Audio latents per latent step (`A`).
    public let tokensPerStep: Int
    /// Global sample of `firstFrame` (`clock.sample(atFrame: firstFrame)`).
    public let firstSample: Int
    private let remainder: Int64  // (firstFrame · rate · den) mod num
    private let rateDen: Int64  // rate · den
    private let num: Int64

    public init(clock: SampleClock, firstFrame: Int, tokensPerStep: Int) {
        precondition(tokensPerStep > 0 && firstFrame >= 0)
        self.clock = clock
        self.firstFrame = firstFrame
        self.tokensPerStep = tokensPerStep
        num = clock.fps.numerator
        rateDen = Int64(clock.sampleRate) * clock.fps.denominator
        let (q, r) = ExactMath.floorDivide(Int64(firstFrame), times: rateDen, plus: 0, by: num)
        firstSample = Int(q)
        remainder = r
    }

    static let stride = Int64(MMDiTConfig.temporalStride)

    /// Where local sample `sample` (global sample − ``firstSample``) falls: latent `index` and the fraction of it.
    public func coordinate(ofSample sample: Int) -> (index: Int, fraction: Double) {
        // u = (σ·num − r0 + 3·rate·den) · A / (4·rate·den)
        let a = Int64(tokensPerStep)
        let d = 4 * rateDen
        let base = ExactMath.floorDivide(
            Int64(sample), times: num, plus: (Self.stride - 1) * rateDen - remainder, by: 1)
        let (q, r) = ExactMath.floorDivide(base.quotient, times: a, plus: 0, by: d)
        return (Int(q), Double(r) / Double(d))
    }

    /// Local sample on which latent `k` starts: `floor(instant · rate)` of its start instant.
    public func sample(atToken k: Int) -> Int {
        // σ_k = floor((r0·A + (4k − 3A)·rate·den) / (A·num))
        let a = Int64(tokensPerStep)
        let (q, _) = ExactMath.floorDivide(
            4 * Int64(k) - (Self.stride - 1) * a, times: rateDen, plus: remainder * a, by: a * num)
        return Int(q)
    }

    /// Local time (video frames) at which latent `k` starts, as a fraction `numerator / tokensPerStep`.
    public func start(ofToken k: Int) -> (numerator: Int, denominator: Int) {
        (4 * k - 3 * tokensPerStep, tokensPerStep)
    }

    /// Local sample position (integer part and fraction) of the instant at latent coordinate `p / q`.
    func samplePosition(ofCoordinate p: Int64, over q: Int64) -> (index: Int, fraction: Double) {
        // σ(u) = (u·4·rate·den/A − 3·rate·den + r0) / num, u = p/q.
        let a = Int64(tokensPerStep)
        let top = ExactMath.floorDivide(
            p, times: 4 * rateDen, plus: (remainder - (Self.stride - 1) * rateDen) * a * q, by: 1)
        let (i, r) = ExactMath.floorDivide(top.quotient, times: 1, plus: 0, by: a * q * num)
        return (Int(i), Double(r) / Double(a * q * num))
    }
}
