import FarmCore
import Testing

@testable import FarmInference

@Suite struct CodecTests {
    @Test func framesComeFromTheCausalLatentGrid() {
        #expect(VideoCodec.source(ofFrame: 0) == (0, 3))
        #expect(VideoCodec.source(ofFrame: 1) == (1, 0))
        #expect(VideoCodec.source(ofFrame: 4) == (1, 3))
        #expect(VideoCodec.source(ofFrame: 5) == (2, 0))
        let g = EngineGeometry(latentChannels: 4, maxWindow: 33)
        for f in 0..<33 where f % 4 == 0 { #expect(VideoCodec.source(ofFrame: f).step == g.latentIndex(ofFrame: f)) }
    }

    @Test func encodingADecodedFrameGivesItsLatentBack() {
        let codec = VideoCodec(weights: tinyModel.weights)
        let (c, h, w) = (tinyModel.config.videoChannels, 3, 5)
        let latent = randomFloats(c * h * w, seed: 4).map { $0 * 0.3 }
        var frames = VideoFrames(width: 8 * w, height: 8 * h)
        codec.decode(latent, height: h, width: w, frames: 0..<1, into: &frames)
        let back = codec.encode(rgb: Array(frames.frame(0)), width: 8 * w, height: 8 * h)
        #expect(maxRelativeError(back, latent) < 0.05, "8-bit rounding is the only loss")
    }

    @Test func audioDecodesEveryRequestedSampleAndEncodesBack() {
        let config = tinyModel.config
        let codec = AudioCodec(weights: tinyModel.weights)
        let clock = SampleClock(fps: Rational(30000, 1001), sampleRate: 8000)
        let timeline = AudioTimeline(clock: clock, firstFrame: 40, tokensPerStep: config.audioTokensPerStep)
        let steps = 4
        let n = steps * config.audioChannels * config.audioTokensPerStep
        let latents = randomFloats(n, seed: 8).map { $0 * 0.5 }
        let span = clock.sample(atFrame: 40 + 13) - timeline.firstSample
        let pcm = codec.decode(latents, steps: steps, timeline: timeline, samples: 0..<span, channels: 3)
        #expect(pcm.count == span * 3 && pcm.allSatisfy { abs($0) <= 1 })
        // Channel 2 repeats channel 0 (film channels take the stereo pair in turn).
        #expect((0..<span).allSatisfy { pcm[$0 * 3] == pcm[$0 * 3 + 2] })
        let again = codec.encode(pcm: pcm, channels: 3, steps: steps, timeline: timeline)
        #expect(again.count == n)
        #expect(again == codec.encode(pcm: pcm, channels: 3, steps: steps, timeline: timeline))
    }
}
