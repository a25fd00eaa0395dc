import FarmCore
import FarmMedia
import FarmTesting
import Foundation
import Testing

/// libx264 prints statistics after every chunk at FFmpeg's default level; tests only want errors.
let quietFFmpeg: Void = MediaLog.setLevel(.errors)

/// Synthetic film material whose every frame and channel can be told apart after a lossy round trip.
enum Fixture {
    /// Gray level of global frame `index`: steps of 7 so a dropped, repeated or swapped frame moves the mean
    /// luma by about 6, far beyond coding noise at crf 20. Frames 0 to 27 stay within 8 bits.
    static func brightness(ofFrame index: Int) -> Int { 24 + 7 * index }

    /// The square that moves across each frame (so the encoder has motion to predict) is this much brighter.
    static let squareBoost = 40

    /// Gray frames (R = G = B) with a brighter square moving one step per frame.
    static func frames(width: Int, height: Int, range: Range<Int>) -> VideoFrames {
        var frames = VideoFrames(width: width, height: height)
        for index in range {
            let base = UInt8(brightness(ofFrame: index))
            let bright = UInt8(brightness(ofFrame: index) + squareBoost)
            var pixels = [UInt8](repeating: base, count: width * height * 3)
            let side = height / 4
            let left = (index * 9) % (width - side)
            for row in side ..< 2 * side {
                for column in left ..< left + side {
                    let at = (row * width + column) * 3
                    pixels[at] = bright
                    pixels[at + 1] = bright
                    pixels[at + 2] = bright
                }
            }
            frames.append(frame: pixels)
        }
        return frames
    }

    /// Busy frames (gradients, moving diagonals and noise from a fixed generator) that make x264 weigh many modes.
    static func texturedFrames(width: Int, height: Int, count: Int) -> VideoFrames {
        var frames = VideoFrames(width: width, height: height)
        var state: UInt32 = 12_345
        for index in 0 ..< count {
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for row in 0 ..< height {
                for column in 0 ..< width {
                    state = state &* 1_664_525 &+ 1_013_904_223
                    let noise = Int(state >> 28)
                    let at = (row * width + column) * 3
                    pixels[at] = UInt8(truncatingIfNeeded: (column + index * 3) / 3 + noise)
                    pixels[at + 1] = UInt8(truncatingIfNeeded: (row * 2 + index) / 2 + noise)
                    pixels[at + 2] = UInt8(truncatingIfNeeded: ((row ^ column) + index * 5) / 4 + noise)
                }
            }
            frames.append(frame: pixels)
        }
        return frames
    }

    /// Expected mean of the decoded Y plane of frame `index`: BT.709 limited range maps gray `v` to
    /// `16 + 219 · v / 255` whatever the coefficients.
    static func expectedMeanLuma(ofFrame index: Int, width: Int, height: Int) -> Double {
        let side = height / 4
        let squareShare = Double(side * side) / Double(width * height)
        let gray = Double(brightness(ofFrame: index)) + Double(squareBoost) * squareShare
        return 16 + 219 * gray / 255
    }

    /// Silence with a one-sample click per channel: channel `c` clicks at `clicks[c]`.
    static func clicks(_ clicks: [Int], samplesPerChannel: Int) -> PCMBuffer {
        let channels = clicks.count
        var samples = [Float](repeating: 0, count: samplesPerChannel * channels)
        for (channel, at) in clicks.enumerated() {
            samples[at * channels + channel] = 0.9
        }
        return PCMBuffer(channels: channels, samples: samples)
    }

    /// The sample of `channel` with the largest magnitude.
    static func loudestSample(in pcm: PCMBuffer, channel: Int) -> Int {
        var best = 0
        var loudest: Float = -1
        for sample in 0 ..< pcm.frameCount {
            let value = abs(pcm.samples[sample * pcm.channels + channel])
            if value > loudest {
                loudest = value
                best = sample
            }
        }
        return best
    }
}

/// A fresh directory under the system's temporary directory, removed by the caller.
func makeScratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("farmmedia-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// What `ffprobe -show_streams -count_frames` reports for one stream.
struct ProbedStream: Decodable {
    var codec_type: String
    var codec_name: String
    var pix_fmt: String?
    var width: Int?
    var height: Int?
    var duration: String?
    var nb_read_frames: String?
    var sample_rate: String?
    var channels: Int?

    var durationSeconds: Double { Double(duration ?? "") ?? -1 }
}

/// Runs the system's ffprobe on `file`: an independent reader of what FarmMedia wrote.
func probe(_ file: URL) throws -> [ProbedStream] {
    struct Output: Decodable { var streams: [ProbedStream] }
    let out = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/ffprobe"),
                                    ["-v", "error", "-show_streams", "-count_frames", "-of", "json", file.path])
    #expect(out.status == 0, "ffprobe failed on \(file.path): \(out.stderr)")
    return try JSONDecoder().decode(Output.self, from: Data(out.stdout.utf8)).streams
}
