import FarmCore
import Foundation
import Testing

@Suite struct KeyframeTaskTests {
    let text = """
        title: keys
        output: {width: 192, height: 64, fps: "24", sample_rate: 48000, channels: 1}
        model: {engine: testcard, window: 33, overlap: 9, steps: 1, seed: 3, schedule: chain}
        references: [grid.png]
        shots:
          - {id: a, frames: 10, prompt: p}
          - id: b
            frames: 80
            prompt: q
            keyframes: [{at: 2, image: key.png}]
        """

    let dummy = StillImage(width: 192, height: 64, rgb: [UInt8](repeating: 9, count: 192 * 64 * 3))

    @Test func keyframesGoToTheSegmentsThatGenerateTheirFrameAndReferencesToAll() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in ["grid.png", "key.png"] { try Data([0]).write(to: dir.appendingPathComponent(f)) }
        let spec = try JobSpec.parse(text, source: "t", baseDirectory: dir)
        #expect(spec.references == [dir.appendingPathComponent("grid.png").path])
        let key = dir.appendingPathComponent("key.png").path
        let job = try JobContext(spec: spec, geometry: EngineGeometry(latentChannels: 8, maxWindow: 1025),
                                 images: [spec.references[0]: dummy, key: dummy])
        // Shot b starts at frame 10; 2 s in at 24 fps is global frame 58.
        var holders: [String] = []
        for s in job.plan.segments {
            let t = try job.segmentTask(s, tail: { _ in Latents(video: LatentTensor(shape: [3, 8, 1, 1]), audio: LatentTensor(shape: [3, 0])) },
                                        anchors: { _ in nil })
            #expect(t.references.count == 1)
            if let k = t.keyframes.first {
                #expect(k.frame == 58 && s.generate.contains(58))
                holders.append(s.id)
            } else {
                #expect(!s.generate.contains(58) || s.shot == 0)
            }
        }
        #expect(!holders.isEmpty)
        // Without the decoded image, building the task says which image is missing.
        let bare = try JobContext(spec: spec, geometry: EngineGeometry(latentChannels: 8, maxWindow: 1025))
        #expect { try bare.segmentTask(bare.plan.segments[0], tail: { _ in nil }, anchors: { _ in nil }) } throws: {
            "\($0)".contains("grid.png")
        }
    }

    @Test func aMissingKeyframeImageIsNamed() {
        do {
            _ = try JobSpec.parse(text, source: "t", baseDirectory: URL(fileURLWithPath: "/nonexistent"))
            Issue.record("missing images were accepted")
        } catch {
            #expect(error.issues.contains { $0.field == "shots[1].keyframes[0].image" })
            #expect(error.issues.contains { $0.field == "references[0]" })
        }
    }
}
