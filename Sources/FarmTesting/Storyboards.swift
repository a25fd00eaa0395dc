import FarmCore
import Foundation

/// Storyboards for tests, written as text so they go through the same parser users' files do.
public enum Storyboards {
    /// Three shots: a long one (several segments), a continuation and a short cut.
    public static func threeShots(schedule: Schedule = .chain, fps: String = "24", sampleRate: Int = 48_000,
                                  window: Int = 33, overlap: Int = 9) -> String {
        """
        title: three shots
        output: {width: 320, height: 192, fps: "\(fps)", sample_rate: \(sampleRate), channels: 2}
        model: {engine: testcard, window: \(window), overlap: \(overlap), steps: 2, seed: 11, schedule: \(schedule.rawValue)}
        shots:
          - {id: wide, duration: 3.3, prompt: "a wide shot", sound: hum}
          - {id: push, duration: 2.1, prompt: "the camera pushes in", transition: continue}
          - {id: cut, frames: 7, prompt: "a short cut"}
        """
    }

    /// Writes `text` to a new temporary file and returns its URL.
    public static func write(_ text: String, name: String = "job.yaml") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}
