import FarmCore
import Foundation
import Testing

@testable import FarmInference

@Suite struct EngineTests {
    let engine = MMDiTEngine(model: tinyModel)

    @Test func segmentHonoursTheEngineContract() throws {
        let task = segmentTask(generate: TimeRange(8, 17), own: TimeRange(10, 17), tail: 2)
        let result = try engine.generate(task) { _, _ in }
        #expect(result.frames.count == 7 && result.frames.width == 32 && result.frames.height == 32)
        #expect(result.audio.channels == 2 && result.audio.frameCount == task.samples.count)
        #expect(result.latents.video.shape == [3, 4, 4, 4] && result.latents.audio.shape == [3, 4, 4])
        #expect(result.tail == result.latents.slice(1..<3))
    }

    @Test func contextStepsComeOutExactlyAsGiven() throws {
        let first = try engine.generate(segmentTask(generate: TimeRange(0, 13), tail: 2)) { _, _ in }
        let context = first.tail
        let second = try engine.generate(
            segmentTask(
                generate: TimeRange(8, 21), pins: [LatentPin(latentIndex: 0, latents: context)], index: 1, seed: 43)
        ) { _, _ in }
        #expect(second.latents.slice(0..<2) == context)
        // Frames decoded from the shared steps are the previous segment's frames, pixel for pixel.
        for f in 0...4 { #expect(second.frames.frame(f) == first.frames.frame(8 + f), "frame \(8 + f)") }
        // The rest is new.
        #expect(second.latents.slice(2..<4) != first.latents.slice(1..<3))
    }

    @Test func anchoredSegmentKeepsBothEnds() throws {
        let anchors = try engine.anchors(
            AnchorTask(
                id: "a", shot: segmentTask(generate: TimeRange(0, 1)).shot,
                format: segmentTask(generate: TimeRange(0, 1)).format,
                frames: [0, 16, 32], start: nil, seed: 9, steps: 2)
        ) { _, _ in }
        #expect(anchors.count == 3)
        let pins = [
            LatentPin(latentIndex: 0, latents: anchors.slice(1..<2)),
            LatentPin(latentIndex: 4, latents: anchors.slice(2..<3)),
        ]
        let result = try engine.generate(segmentTask(generate: TimeRange(16, 33), pins: pins, index: 1)) { _, _ in }
        #expect(result.latents.slice(0..<1) == anchors.slice(1..<2))
        #expect(result.latents.slice(4..<5) == anchors.slice(2..<3))
    }

    @Test func theSameSegmentTwiceGivesTheSameBits() throws {
        let pins = [
            LatentPin(
                latentIndex: 0, latents: try engine.generate(segmentTask(generate: TimeRange(0, 5))) { _, _ in }.tail)
        ]
        let task = segmentTask(generate: TimeRange(4, 13), pins: pins, index: 1, seed: 77)
        let a = try engine.generate(task) { _, _ in }
        let b = try engine.generate(task) { _, _ in }
        #expect(a == b)
        var other = task
        other.seed = 78
        #expect(try engine.generate(other) { _, _ in }.latents != a.latents)
    }

    @Test func longAnchorPassesAreChunkedAndHeldAtTheStart() throws {
        let base = segmentTask(generate: TimeRange(0, 1))
        let start = try engine.anchors(
            AnchorTask(
                id: "s", shot: base.shot, format: base.format, frames: [0], start: nil,
                seed: 1, steps: 1)
        ) { _, _ in }
        let frames = (0..<20).map { 1000 + 32 * $0 }
        let anchors = try engine.anchors(
            AnchorTask(
                id: "long", shot: base.shot, format: base.format, frames: frames,
                start: start, seed: 2, steps: 1)
        ) { _, _ in }
        #expect(anchors.count == 20 && anchors.slice(0..<1) == start)
    }

    @Test func keyframesAreHeldAndReferencesSteer() throws {
        let task = segmentTask(generate: TimeRange(0, 9))
        let codec = VideoCodec(weights: tinyModel.weights)
        let image = (0..<(32 * 32 * 3)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let keyed = try engine.generate(task, keyframes: [.init(frame: 4, rgb: image)], references: []) { _, _ in }
        #expect(keyed.latents.video.values[64..<128] == codec.encode(rgb: image, width: 32, height: 32)[...])
        let plain = try engine.generate(task) { _, _ in }
        let referenced = try engine.generate(task, keyframes: [], references: [image]) { _, _ in }
        #expect(referenced.latents != plain.latents)
        #expect(throws: MMDiTEngine.TaskError.self) {
            try engine.generate(task, keyframes: [], references: Array(repeating: image, count: 10)) { _, _ in }
        }
    }

    @Test func theTasksOwnKeyframesAndReferencesReachTheModel() throws {
        let image = (0..<(32 * 32 * 3)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var task = segmentTask(generate: TimeRange(0, 9))
        task.keyframes = [PinnedImage(frame: 4, image: StillImage(width: 32, height: 32, rgb: image))]
        let direct = try engine.generate(segmentTask(generate: TimeRange(0, 9)), keyframes: [.init(frame: 4, rgb: image)],
                                         references: []) { _, _ in }
        #expect(try engine.generate(task) { _, _ in } == direct)
        task.references = [StillImage(width: 32, height: 32, rgb: image)]
        #expect(try engine.generate(task) { _, _ in } != direct)
    }

    @Test func refusesTasksThatDoNotFit() {
        #expect(throws: MMDiTEngine.TaskError.self) {
            try engine.generate(segmentTask(generate: TimeRange(0, 8))) { _, _ in }
        }
        #expect(throws: MMDiTEngine.TaskError.self) {
            try engine.generate(segmentTask(generate: TimeRange(0, 37))) { _, _ in }
        }
        let wrong = Latents(video: LatentTensor(shape: [1, 8, 1, 1]), audio: LatentTensor(shape: [1, 0]))
        #expect(throws: MMDiTEngine.TaskError.self) {
            try engine.generate(
                segmentTask(generate: TimeRange(0, 5), pins: [LatentPin(latentIndex: 0, latents: wrong)])
            ) { _, _ in }
        }
    }

    @Test func cuesReachTheSoundText() {
        let shot = ShotBrief(
            index: 0, id: "s", prompt: "p", camera: "", sound: "rain",
            cues: [.init(sample: 100, sound: "thunder"), .init(sample: 900, sound: "silence")], frames: TimeRange(0, 10)
        )
        #expect(SegmentText.sound(shot, samples: TimeRange(0, 50)) == "rain")
        #expect(SegmentText.sound(shot, samples: TimeRange(0, 1000)) == "rain; then thunder; then silence")
        #expect(SegmentText.sound(shot, samples: TimeRange(100, 800)) == "thunder")
        #expect(
            SegmentText.prompt(
                ShotBrief(
                    index: 0, id: "s", prompt: "p", camera: "pan", sound: "", cues: [],
                    frames: TimeRange(0, 1))) == "p; camera: pan")
    }

    @Test func storyboardSettingsPickConfigurationAndWeights() throws {
        func spec(config: String?, weights: String?) -> ModelSpec {
            ModelSpec(
                engine: "mmdit", window: 33, overlap: 9, steps: 2, seed: 5, schedule: .chain, config: config,
                weights: weights)
        }
        #expect(try MMDiTEngine(model: spec(config: "tiny", weights: nil)).model.config.name == "tiny")
        #expect(
            try MMDiTEngine(model: spec(config: nil, weights: Fixtures.tinyWeights.path)).model.config.name == "tiny")
        do {
            _ = try MMDiTEngine(model: spec(config: "huge", weights: nil), source: "job.yaml")
            Issue.record("accepted an unknown configuration")
        } catch {
            #expect(error.issues.map(\.field) == ["model.config"] && error.description.contains("huge"))
        }
        do {
            _ = try MMDiTEngine(model: spec(config: "small", weights: Fixtures.tinyWeights.path))
            Issue.record("accepted tiny weights for the small configuration")
        } catch {
            #expect(error.issues.map(\.field) == ["model.weights"] && error.description.contains("tiny"))
        }
        do {
            _ = try MMDiTEngine(model: spec(config: "tiny", weights: "/nonexistent.safetensors"))
            Issue.record("accepted a missing weights file")
        } catch {
            #expect(error.issues.map(\.field) == ["model.weights"])
        }
    }
}
