import Foundation
import Testing

@testable import FarmInference

/// The Swift core against `Scripts/mmdit_reference.py` (NumPy, float64) on the committed tiny fixtures.
@Suite struct ReferenceTests {
    static let tolerance = 1e-4
    let file: SafetensorsFile
    let config = MMDiTConfig.named("tiny")!

    init() throws { file = try SafetensorsFile(contentsOf: Fixtures.tinyCase) }

    func meta(_ key: String) throws -> String { try #require(file.metadata[key], "case metadata lacks \(key)") }

    /// One forward pass of `model` on a case's inputs, as `[T, C, h, w]` and `[T, Ca, A]` velocities.
    func forward(
        _ model: MMDiT, _ name: String, layout: TokenLayout, prompt: String, sound: String, time: Float,
        held: Bool
    ) throws -> (video: [Float], audio: [Float]) {
        let text = model.textContext(prompt: prompt, sound: sound)
        let ws = Workspace(layout: layout, maxTextTokens: text.tokens)
        let c = layout.config
        let nv = layout.steps * layout.videoStepSize
        let na = layout.steps * layout.audioStepSize
        let vNoisy = try file.floats("\(name).video.noisy")
        let aNoisy = try file.floats("\(name).audio.noisy")
        let vRef = held ? try file.floats("\(name).video.reference") : [Float](repeating: 0, count: nv)
        let aRef = held ? try file.floats("\(name).audio.reference") : [Float](repeating: 0, count: na)
        let vMask = held ? try file.floats("\(name).video.mask") : [Float](repeating: 0, count: nv / c.videoChannels)
        let aMask = held ? try file.floats("\(name).audio.mask") : [Float](repeating: 0, count: na / c.audioChannels)
        layout.patchifyVideo(noisy: vNoisy, reference: vRef, mask: vMask, into: ws.videoIn.base)
        layout.patchifyAudio(noisy: aNoisy, reference: aRef, mask: aMask, into: ws.audioIn.base)
        if layout.references > 0 {
            layout.patchifyReferences(
                try file.floats("\(name).references"),
                into: ws.videoIn.base + layout.videoClipTokens * c.videoTokenInputs)
        }
        let outV = FloatBuffer(count: layout.videoClipTokens * c.videoTokenOutputs)
        let outA = FloatBuffer(count: layout.audioTokens * c.audioTokenOutputs)
        model.forward(ws, text: text, time: time, videoOut: outV.base, audioOut: outA.base)
        var video = [Float](repeating: 0, count: nv)
        var audio = [Float](repeating: 0, count: na)
        layout.unpatchifyVideo(outV.base, into: &video)
        layout.unpatchifyAudio(outA.base, into: &audio)
        return (video, audio)
    }

    /// Relative errors of forward pass A (conditional text, held steps, one grid reference).
    func forwardAErrors(_ model: MMDiT) throws -> (Double, Double) {
        let layout = TokenLayout(config: config, steps: 3, height: 4, width: 4, references: 1)
        let out = try forward(
            model, "forward_a", layout: layout, prompt: try meta("prompt"), sound: try meta("sound"),
            time: try #require(Float(try meta("forward_a.time"))), held: true)
        return (
            maxRelativeError(out.video, try file.floats("forward_a.expected.video")),
            maxRelativeError(out.audio, try file.floats("forward_a.expected.audio"))
        )
    }

    @Test func forwardPassMatchesNumPy() throws {
        let (video, audio) = try forwardAErrors(tinyModel)
        #expect(video <= Self.tolerance, "video velocity: max relative error \(video)")
        #expect(audio <= Self.tolerance, "audio velocity: max relative error \(audio)")
    }

    @Test func unconditionalForwardAtIrregularTimesMatchesNumPy() throws {
        let times = try JSONDecoder().decode([Int].self, from: Data(try meta("forward_b.step_times").utf8))
        let layout = TokenLayout(config: config, steps: 3, height: 4, width: 4, stepTimes: times)
        let out = try forward(
            tinyModel, "forward_b", layout: layout, prompt: "", sound: "",
            time: try #require(Float(try meta("forward_b.time"))), held: false)
        let video = maxRelativeError(out.video, try file.floats("forward_b.expected.video"))
        let audio = maxRelativeError(out.audio, try file.floats("forward_b.expected.audio"))
        #expect(video <= Self.tolerance && audio <= Self.tolerance, "relative errors \(video), \(audio)")
    }

    @Test func samplerRunMatchesNumPy() throws {
        let layout = TokenLayout(config: config, steps: 3, height: 4, width: 4, references: 1)
        var cond = Conditioning(
            layout: layout, prompt: try meta("prompt"), sound: try meta("sound"),
            seed: try #require(UInt64(try meta("sample.seed"))),
            segment: try #require(Int(try meta("sample.segment"))))
        cond.videoReference = try file.floats("sample.video.reference")
        cond.videoMask = try file.floats("sample.video.mask")
        cond.audioReference = try file.floats("sample.audio.reference")
        cond.audioMask = try file.floats("sample.audio.mask")
        cond.references = try file.floats("sample.references")
        let out = FlowSampler(model: tinyModel, steps: try #require(Int(try meta("sample.steps")))).sample(cond)
        let video = maxRelativeError(out.video, try file.floats("sample.expected.video"))
        let audio = maxRelativeError(out.audio, try file.floats("sample.expected.audio"))
        #expect(video <= Self.tolerance, "sampled video latents: max relative error \(video)")
        #expect(audio <= Self.tolerance, "sampled audio latents: max relative error \(audio)")
    }

    @Test func noiseMatchesNumPy() throws {
        let key = NoiseKey(
            seed: try #require(UInt64(try meta("sample.seed"))),
            segment: try #require(Int(try meta("sample.segment"))), stream: .audio,
            step: try #require(Int(try meta("noise.step"))))
        let expected = try file.floats("noise.expected")
        let ours = NoiseGenerator.normals(count: expected.count, key: key)
        #expect(maxRelativeError(ours, expected) <= 1e-6)
    }

    @Test func corruptingOneWeightMakesTheComparisonFail() throws {
        var bytes = try Data(contentsOf: Fixtures.tinyWeights)
        let original = try SafetensorsFile(bytes: bytes, path: "tiny")
        let entry = try #require(original.entries["blocks.1.audio.fc2.weight"])
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        // Nudge the 7th float of one tensor by 0.05, about a fifth of that tensor's spread.
        let at = 8 + headerLength + entry.range.lowerBound + 4 * 6
        let old = bytes.withUnsafeBytes {
            Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
        }
        withUnsafeBytes(of: (old + 0.05).bitPattern.littleEndian) { bytes.replaceSubrange(at..<at + 4, with: $0) }
        let corrupted = MMDiT(
            weights: try ModelWeights.load(SafetensorsFile(bytes: bytes, path: "corrupted"), expecting: config))
        let (video, audio) = try forwardAErrors(corrupted)
        #expect(max(video, audio) > Self.tolerance, "a corrupted weight went unnoticed: errors \(video), \(audio)")
        // And the untouched file still passes, so it is the one weight that made the difference.
        let (v0, a0) = try forwardAErrors(tinyModel)
        #expect(max(v0, a0) <= Self.tolerance)
    }
}
