import Foundation
import Testing

@testable import FarmInference

@Suite struct SamplerTests {
    let layout = TokenLayout(config: MMDiTConfig.named("tiny")!, steps: 4, height: 4, width: 6)

    func conditioning(seed: UInt64 = 5, segment: Int = 1) -> Conditioning {
        var c = Conditioning(layout: layout, prompt: "a boat", sound: "gulls", seed: seed, segment: segment)
        c.holdVideo(step: 0, latent: randomFloats(layout.videoStepSize, seed: 1)[...])
        c.holdAudio(step: 0, latent: randomFloats(layout.audioStepSize, seed: 2)[...])
        c.holdVideo(step: 3, latent: randomFloats(layout.videoStepSize, seed: 3)[...])
        return c
    }

    @Test func heldStepsComeOutBitIdentical() {
        let cond = conditioning()
        let out = FlowSampler(model: tinyModel, steps: 3).sample(cond)
        let (v, a) = (layout.videoStepSize, layout.audioStepSize)
        #expect(Array(out.video[0..<v]) == randomFloats(v, seed: 1))
        #expect(Array(out.audio[0..<a]) == randomFloats(a, seed: 2))
        #expect(Array(out.video[3 * v..<4 * v]) == randomFloats(v, seed: 3))
        // The free steps moved away from the noise they started at.
        let noise = NoiseGenerator.normals(count: 4 * v, key: NoiseKey(seed: 5, segment: 1, stream: .video))
        #expect(Array(out.video[v..<2 * v]) != Array(noise[v..<2 * v]))
        // Audio step 3 is not held (only its video is).
        let audioNoise = NoiseGenerator.normals(count: 4 * a, key: NoiseKey(seed: 5, segment: 1, stream: .audio))
        #expect(Array(out.audio[3 * a..<4 * a]) != Array(audioNoise[3 * a..<4 * a]))
    }

    @Test func theSameCallGivesTheSameBits() {
        let sampler = FlowSampler(model: tinyModel, steps: 2)
        #expect(sampler.sample(conditioning()) == sampler.sample(conditioning()))
        #expect(sampler.sample(conditioning()) != sampler.sample(conditioning(seed: 6)))
        #expect(sampler.sample(conditioning()) != sampler.sample(conditioning(segment: 2)))
    }

    @Test func guidanceAndTextChangeTheResult() {
        let base = FlowSampler(model: tinyModel, steps: 2).sample(conditioning())
        #expect(FlowSampler(model: tinyModel, steps: 2, guidance: 1).sample(conditioning()) != base)
        var other = conditioning()
        other.sound = "thunder"
        #expect(FlowSampler(model: tinyModel, steps: 2).sample(other).audio != base.audio)
    }

    @Test func scheduleRunsFromNoiseToDataAndShiftsTowardsNoise() {
        let plain = FlowSampler.schedule(steps: 8, shift: 1)
        let shifted = FlowSampler.schedule(steps: 8, shift: 3)
        #expect(plain.first == 1 && plain.last == 0 && shifted.first == 1 && shifted.last == 0)
        #expect(zip(shifted, shifted.dropFirst()).allSatisfy { $0 > $1 })
        #expect(zip(plain.dropFirst().dropLast(), shifted.dropFirst().dropLast()).allSatisfy { $0 < $1 })
    }

    @Test func noiseIsStandardNormalAndKeyed() {
        let key = NoiseKey(seed: 99, segment: 3, stream: .video, step: 0)
        let n = NoiseGenerator.normals(count: 40_000, key: key)
        let mean = n.reduce(0, +) / Float(n.count)
        let variance = n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(n.count)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.03)
        // Element i does not depend on how many are drawn.
        #expect(Array(NoiseGenerator.normals(count: 7, key: key)) == Array(n[0..<7]))
        for other in [
            NoiseKey(seed: 98, segment: 3, stream: .video), NoiseKey(seed: 99, segment: 4, stream: .video),
            NoiseKey(seed: 99, segment: 3, stream: .audio), NoiseKey(seed: 99, segment: 3, stream: .video, step: 1),
        ] {
            #expect(NoiseGenerator.normals(count: 16, key: other) != Array(n[0..<16]))
        }
    }

    @Test func philoxMatchesTheRandom123KnownAnswer() {
        // Random123's kat_vectors: philox4x32_10 with counter and key all 0xFFFFFFFF... and all zero.
        #expect(
            NoiseGenerator.philox(SIMD4(repeating: 0), key: SIMD2(repeating: 0))
                == SIMD4(0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8))
        #expect(
            NoiseGenerator.philox(SIMD4(repeating: 0xFFFF_FFFF), key: SIMD2(repeating: 0xFFFF_FFFF))
                == SIMD4(0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD))
    }
}
