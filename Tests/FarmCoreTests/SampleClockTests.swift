import FarmCore
import Testing

@Suite struct SampleClockTests {
    @Test(arguments: frameRates, sampleRates)
    func frameBoundariesMatchTheExactFormula(fps: Rational, rate: Int) {
        let clock = SampleClock(fps: fps, sampleRate: rate)
        for f in [0, 1, 2, 3, 1001, 30000, 86_400 * 60, 3_456_789] {
            // floor(f · rate · den / num), computed independently with a wide exact product.
            let (hi, lo) = (Int64(f) * fps.denominator).multipliedFullWidth(by: Int64(rate))
            let (q, _) = fps.numerator.dividingFullWidth((hi, lo))
            #expect(clock.sample(atFrame: f) == Int(q), "frame \(f) at \(fps) fps, \(rate) Hz")
        }
    }

    @Test(arguments: frameRates, sampleRates)
    func syncErrorStaysUnderOneSampleForHours(fps: Rational, rate: Int) {
        let clock = SampleClock(fps: fps, sampleRate: rate)
        // The exact instant of frame f is f·den/num s; its first sample may trail it by less than one sample.
        for f in stride(from: 0, to: 4 * 3600 * 61, by: 7919) {
            let exact = Rational(Int64(f) * fps.denominator * Int64(rate), fps.numerator)
            let s = clock.sample(atFrame: f)
            #expect(Rational(Int64(s)) <= exact && exact < Rational(Int64(s + 1)))
        }
    }

    @Test func rationalParsingIsExact() {
        #expect(Rational(parsing: "4.5") == Rational(9, 2))
        #expect(Rational(parsing: "30000/1001") == Rational(30000, 1001))
        #expect(Rational(parsing: "0.1") == Rational(1, 10))
        #expect(Rational(parsing: "-2") == Rational(-2))
        #expect(Rational(parsing: "abc") == nil)
        #expect(Rational(parsing: "1/0") == nil)
        #expect(Rational(parsing: ".") == nil)
    }

    @Test func shotBoundariesRoundToTheNearestFrameWithoutDrift() throws {
        // 100 shots of 1/7 s at 24 fps: each alone rounds to 3 or 4 frames; the total stays at round(100/7 · 24).
        let shots = (0..<100).map { ShotSpec(id: "s\($0)", length: .seconds(Rational(1, 7)), prompt: "") }
        let spec = JobSpec(title: "t", output: OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48000, channels: 2),
                           model: ModelSpec(engine: "testcard", window: 97, overlap: 17, steps: 1, seed: 1, schedule: .chain),
                           shots: shots)
        let timeline = ShotTimeline(spec)
        #expect(timeline.totalFrames == 343)  // 2400/7 = 342.86 → 343
        #expect(timeline.shots.allSatisfy { (3...4).contains($0.frames.count) })
    }
}
