import FarmCore
import Testing

@testable import FarmInference

/// Sound and picture of the same instant share a time position, and their samples land where the film's clock
/// says, at integer and at NTSC frame rates.
@Suite struct AudioVideoAlignmentTests {
    static let rates: [(String, Int)] = [
        ("24", 48_000), ("24", 44_100), ("30000/1001", 48_000), ("30000/1001", 44_100),
    ]

    @Test(arguments: rates)
    func audioTokensStartOnTheSampleOfTheirVideoFrame(fps: String, rate: Int) {
        let clock = SampleClock(fps: Rational(parsing: fps)!, sampleRate: rate)
        for config in MMDiTConfig.all {
            for firstFrame in [0, 17, 123_457] {
                let a = config.audioTokensPerStep
                let timeline = AudioTimeline(clock: clock, firstFrame: firstFrame, tokensPerStep: a)
                #expect(timeline.firstSample == clock.sample(atFrame: firstFrame))
                for j in 0..<30 {
                    // Latent 3A/4 of step j starts at local frame 4j.
                    let k = j * a + 3 * a / 4
                    #expect(timeline.start(ofToken: k) == (4 * j * a, a))
                    #expect(
                        timeline.sample(atToken: k) + timeline.firstSample == clock.sample(atFrame: firstFrame + 4 * j))
                    // Every frame boundary is a latent boundary, on the clock's sample.
                    for f in 0..<4 where (f * a) % 4 == 0 {
                        let kf = j * a + 3 * a / 4 - f * a / 4
                        #expect(
                            timeline.sample(atToken: kf) + timeline.firstSample
                                == clock.sample(atFrame: firstFrame + 4 * j - f))
                    }
                }
                // Latent sample ranges tile the track.
                let starts = (0..<200).map { timeline.sample(atToken: $0) }
                #expect(zip(starts, starts.dropFirst()).allSatisfy { $0 <= $1 })
            }
        }
    }

    @Test func audioAndVideoTokensOfOneInstantShareTheirTimeRotation() {
        for config in MMDiTConfig.all {
            let layout = TokenLayout(config: config, steps: 5, height: 2, width: 4)
            let video = layout.videoPositions
            let audio = layout.audioPositions
            let perStep = config.audioTokensPerStepPatched
            let ropeV = RotaryEmbedding(positions: video, headDim: config.headDim)
            let ropeA = RotaryEmbedding(positions: audio, headDim: config.headDim)
            let timePairs = RotaryEmbedding.Axes(headDim: config.headDim).t / 2
            let half = config.headDim / 2
            for j in 0..<layout.steps {
                let v = j * layout.patchesPerStep
                let a = j * perStep + 3 * perStep / 4
                #expect(video[v].t == Float(4 * j) && audio[a].t == video[v].t, "\(config.name) step \(j)")
                // Audio tokens tile the step's four frames in order.
                #expect(
                    audio[j * perStep].t == Float(4 * j - 3) && audio[j * perStep + perStep - 1].t < Float(4 * j + 1))
                for i in 0..<timePairs {
                    #expect(ropeV.cos.base[v * half + i] == ropeA.cos.base[a * half + i])
                    #expect(ropeV.sin.base[v * half + i] == ropeA.sin.base[a * half + i])
                }
            }
        }
    }

    @Test(arguments: rates)
    func decodedSoundOfALatentBeginsRightAfterItsFramesFirstSample(fps: String, rate: Int) {
        // Only latent k sounds (zero decoder bias, every other latent zero): its window opens at its instant, so the
        // clock's first sample of that frame is silent and the next one is not.
        let config = MMDiTConfig.named("tiny")!
        let weights = ModelWeights.seeded(config, seed: 1)
        weights.pointer("codec.audio.decode.bias").update(repeating: 0, count: 2 * config.audioWindowPoints)
        let codec = AudioCodec(weights: weights)
        let clock = SampleClock(fps: Rational(parsing: fps)!, sampleRate: rate)
        let (steps, a, ca) = (6, config.audioTokensPerStep, config.audioChannels)
        for firstFrame in [0, 1001] {
            let timeline = AudioTimeline(clock: clock, firstFrame: firstFrame, tokensPerStep: a)
            for j in 1..<steps {
                var latents = [Float](repeating: 0, count: steps * ca * a)
                for ch in 0..<ca { latents[(j * ca + ch) * a + 3 * a / 4] = 1 }
                let onset = clock.sample(atFrame: firstFrame + 4 * j) - timeline.firstSample
                let pcm = codec.decode(
                    latents, steps: steps, timeline: timeline, samples: onset - 3..<onset + 3, channels: 1)
                #expect(
                    pcm[0...3].allSatisfy { $0 == 0 }, "\(fps) @ \(rate): sound before frame \(4 * j)'s first sample")
                #expect(pcm[4] != 0, "\(fps) @ \(rate): silence after frame \(4 * j)'s first sample")
            }
        }
    }
}
