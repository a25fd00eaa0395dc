import FarmCore
import FarmTesting
import Foundation

@testable import FarmInference

/// Committed fixtures (see Fixtures/README.md).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")
    static var tinyWeights: URL { directory.appendingPathComponent("tiny.safetensors") }
    static var tinyCase: URL { directory.appendingPathComponent("tiny-case.safetensors") }
}

/// `max |a − b| / max |b|`: the largest error relative to the reference's largest magnitude.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "compared arrays differ in length: \(a.count) vs \(b.count)")
    var err = 0.0
    var scale = 0.0
    for (x, y) in zip(a, b) {
        err = max(err, abs(Double(x) - Double(y)))
        scale = max(scale, abs(Double(y)))
    }
    return err / max(scale, 1e-30)
}

/// A fresh temporary directory.
func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-inference-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Deterministic pseudo-random floats in [-1, 1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<count).map { _ in
        s = SeedDerivation.mix(s)
        return Float(s >> 40) / Float(1 << 23) - 1
    }
}

/// The tiny model with the committed fixture weights (loaded once per process).
let tinyModel: MMDiT = {
    MMDiT(weights: try! ModelWeights.load(contentsOf: Fixtures.tinyWeights, expecting: MMDiTConfig.named("tiny")))
}()

/// A segment task for `engine` over global frames `generate` of a one-shot film.
func segmentTask(
    generate: TimeRange, own: TimeRange? = nil, pins: [LatentPin] = [], index: Int = 0, seed: UInt64 = 42,
    steps: Int = 2,
    tail: Int = 2,
    format: OutputFormat = OutputFormat(width: 32, height: 32, fps: Rational(24), sampleRate: 8000, channels: 2),
    prompt: String = "waves at night", sound: String = "surf", cues: [ShotBrief.Cue] = []
) -> SegmentTask {
    let own = own ?? generate
    let shot = ShotBrief(
        index: 0, id: "shot", prompt: prompt, camera: "wide", sound: sound, cues: cues,
        frames: TimeRange(0, 1000))
    return SegmentTask(
        id: "shot/\(index)", shot: shot, index: index, format: format, generate: generate, own: own,
        samples: format.clock.samples(forFrames: own), pins: pins, seed: seed, steps: steps, tailLatents: tail)
}

/// The `reelfarm` executable built next to the test bundle.
let reelfarm: URL = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let url = candidate.appendingPathComponent("reelfarm")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return dir.appendingPathComponent("reelfarm")
}()

/// Runs a program to completion; returns its status, stdout and stderr.
func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let out = try ProcessRunner.run(executable, arguments)
    return (out.status, out.stdout, out.stderr)
}

/// Streams of a media file as ffprobe decodes them: type, codec, frames read, duration, sample rate.
func probe(_ file: URL) throws -> [[String: Any]] {
    let out = try run(
        URL(fileURLWithPath: "/usr/bin/ffprobe"),
        ["-v", "error", "-count_frames", "-show_streams", "-of", "json", file.path])
    guard out.status == 0, let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
        let streams = json["streams"] as? [[String: Any]]
    else { throw ProbeFailed(message: out.stderr) }
    return streams
}

struct ProbeFailed: Error { var message: String }
