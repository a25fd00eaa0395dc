import FarmCore
import Testing

@Suite struct JobSpecTests {
    let good = """
        title: The Lobster Legion
        output: {width: 320, height: 192, fps: "30000/1001", sample_rate: 48000, channels: 2}
        model: {engine: testcard, window: 97, overlap: 17, steps: 8, seed: 7, schedule: anchored}
        shots:
          - id: eyes
            duration: 4.5
            prompt: "In darkness, countless bulging black eyes snap open"
            camera: close-up
            sound: "infrasonic hum + clicking shells"
          - id: claws
            frames: 108
            prompt: claws
            transition: continue
        """

    func issues(_ text: String) -> [SpecIssue] {
        do {
            _ = try JobSpec.parse(text, source: "test")
            return []
        } catch {
            return error.issues
        }
    }

    @Test func parsesYAMLExactly() throws {
        let spec = try JobSpec.parse(good, source: "test")
        #expect(spec.output.fps == Rational(30000, 1001))
        #expect(spec.shots[0].length == .seconds(Rational(9, 2)))
        #expect(spec.shots[1].length == .frames(108))
        #expect(spec.shots[1].transition == .continue)
        #expect(spec.model.schedule == .anchored)
    }

    @Test func parsesWorkerRequirements() throws {
        let spec = try JobSpec.parse(good + "\nrequires: {device: gpu, tags: [a100, site-b], memory_gib: 40}\n",
                                     source: "test")
        #expect(spec.requires == WorkerRequirements(device: "gpu", tags: ["a100", "site-b"], memoryBytes: 40 << 30))
        #expect(spec.requires.summary == "gpu, tags a100+site-b, ≥ 40 GiB")
        #expect(try JobSpec.parse(good, source: "test").requires == WorkerRequirements())
        let r = spec.requires
        #expect(r.admit(device: "gpu", tags: ["x", "site-b", "a100"], memoryBytes: 80 << 30))
        #expect(!r.admit(device: "cpu", tags: ["site-b", "a100"], memoryBytes: 80 << 30))
        #expect(!r.admit(device: "gpu", tags: ["a100"], memoryBytes: 80 << 30))
        #expect(!r.admit(device: "gpu", tags: ["site-b", "a100"], memoryBytes: 24 << 30))
        #expect(WorkerRequirements().admit(device: "cpu", tags: [], memoryBytes: 0))
    }

    @Test func parsesJSON() throws {
        let json = """
            {"title": "j", "output": {"width": 320, "height": 192, "fps": 25, "sample_rate": 44100, "channels": 1},
             "model": {"engine": "testcard", "window": 97, "overlap": 17, "steps": 2, "seed": 1, "schedule": "chain"},
             "shots": [{"id": "a", "duration": 0.5, "prompt": "p"}]}
            """
        let spec = try JobSpec.parse(json, source: "test.json")
        #expect(spec.shots[0].length == .seconds(Rational(1, 2)))
        #expect(spec.output.sampleRate == 44100)
    }

    @Test func bundledSampleIsValidAndAboutFiftySeconds() throws {
        let spec = try JobSource.load("sample:cyber-lobster")
        let seconds = ShotTimeline(spec).clock.time(ofFrame: ShotTimeline(spec).totalFrames)
        #expect(Rational(40) <= seconds && seconds <= Rational(60))
        #expect(spec.shots.count == 5)
    }

    /// Each broken rule is reported with the field that broke it.
    @Test(arguments: [
        ("duration: 4.5", "duration: -1", "shots[0].duration", "must be > 0"),
        ("duration: 4.5", "duration: 0", "shots[0].duration", "must be > 0"),
        ("width: 320", "width: 330", "output.width", "multiple of 16"),
        ("height: 192", "height: 48", "output.height", "64"),
        ("width: 320", "width: 176", "output.width", "192"),
        ("fps: \"30000/1001\"", "fps: 0", "output.fps", "must be > 0"),
        ("fps: \"30000/1001\"", "fps: \"-24\"", "output.fps", "must be > 0"),
        ("sample_rate: 48000", "sample_rate: 0", "output.sample_rate", "must be > 0"),
        ("overlap: 17", "overlap: 97", "model.overlap", "must be < model.window"),
        ("overlap: 17", "overlap: 120", "model.overlap", "must be < model.window"),
        ("schedule: anchored", "schedule: sideways", "model.schedule", "chain or anchored"),
        ("camera: close-up", "camera: close-up\n    lens: 35mm", "shots[0].lens", "unknown key"),
        ("title: The Lobster Legion", "title: T\nbudget: 9", "budget", "unknown key"),
        ("width: 320", "width: 8192", "output.width", "4096"),
        ("channels: 2", "channels: 12", "output.channels", "1...8"),
        ("steps: 8", "steps: 0", "model.steps", "1...1000"),
        ("frames: 108", "frames: 108\n    duration: 2", "shots[1].frames", "not both"),
        ("id: claws", "id: eyes", "shots[1].id", "already"),
        ("id: claws", "id: \"cl aws\"", "shots[1].id", "letters"),
        ("transition: continue", "transition: dissolve", "shots[1].transition", "cut or continue"),
        ("duration: 4.5", "duration: 7200", "shots[0].duration", "at most"),
        ("duration: 4.5", "duration: four", "shots[0].duration", "must be a number"),
        ("title: The Lobster Legion", "title: T\nrequires: {device: tpu}", "requires.device", "cpu or gpu"),
        ("title: The Lobster Legion", "title: T\nrequires: {tags: [\"a b\"]}", "requires.tags[0]", "letters"),
        ("title: The Lobster Legion", "title: T\nrequires: {memory_gib: -1}", "requires.memory_gib", "0...65536"),
        ("title: The Lobster Legion", "title: T\nrequires: {gpus: 2}", "requires.gpus", "unknown key"),
    ])
    func rejectsWithFieldNamed(original: String, replacement: String, field: String, rule: String) {
        let found = issues(good.replacingOccurrences(of: original, with: replacement))
        #expect(found.contains { $0.field == field && $0.description.contains(rule) },
                "expected \(field): …\(rule)…, got \(found)")
    }

    @Test func reportsLineNumbers() {
        let found = issues(good.replacingOccurrences(of: "duration: 4.5", with: "duration: -1"))
        #expect(found.first?.line == 6)
        #expect(found.first?.description.hasPrefix("shots[0].duration (line 6): must be > 0") == true)
    }

    @Test func rejectsMissingAndMalformedDocuments() {
        #expect(!issues("").isEmpty)
        #expect(!issues("[1, 2").isEmpty)
        #expect(issues("title: x").contains { $0.field == "shots" })
        #expect(issues(good.replacingOccurrences(of: "transition: continue", with: "")
                           .replacingOccurrences(of: "id: eyes", with: "id: eyes\n    transition: continue"))
            .contains { $0.field == "shots[0].transition" })
    }

    @Test func missingReferenceImageIsNamed() throws {
        let text = good + "\nreferences: [does-not-exist.png]\n"
        do {
            _ = try JobSpec.parse(text, source: "t", baseDirectory: URL(fileURLWithPath: "/tmp"))
            Issue.record("a missing reference image was accepted")
        } catch {
            #expect(error.issues.contains { $0.field == "references[0]" && $0.rule.contains("does-not-exist.png") })
        }
    }
}

import Foundation
