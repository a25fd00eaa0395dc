import Foundation

/// Reads a media file with `ffprobe`, a decoder independent of reelfarm's own.
public enum FFprobe {
    /// One stream as ffprobe reports it.
    public struct Stream: Sendable {
        public var codecType: String
        public var codecName: String
        public var width: Int?
        public var height: Int?
        public var pixelFormat: String?
        public var sampleRate: Int?
        public var channels: Int?
        /// Frames ffprobe decoded (`-count_frames`).
        public var readFrames: Int?
        public var duration: Double?
        /// The duration in ticks of `timeBase` (exact: for audio at `1/sample_rate`, samples).
        public var durationTS: Int?
        /// `"1/48000"`.
        public var timeBase: String?
    }

    public static let executable = URL(fileURLWithPath: "/usr/bin/ffprobe")

    /// The streams of `file`, with frames counted by decoding.
    public static func streams(_ file: URL) throws -> [Stream] {
        let out = try ProcessRunner.run(executable, ["-v", "error", "-count_frames", "-show_streams", "-of", "json", file.path])
        guard out.status == 0,
              let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
              let streams = json["streams"] as? [[String: Any]]
        else { throw ProbeError(message: "ffprobe failed on \(file.path): \(out.stderr)") }
        return streams.map { s in
            Stream(codecType: s["codec_type"] as? String ?? "", codecName: s["codec_name"] as? String ?? "",
                   width: s["width"] as? Int, height: s["height"] as? Int, pixelFormat: s["pix_fmt"] as? String,
                   sampleRate: (s["sample_rate"] as? String).flatMap { Int($0) }, channels: s["channels"] as? Int,
                   readFrames: (s["nb_read_frames"] as? String).flatMap { Int($0) },
                   duration: (s["duration"] as? String).flatMap { Double($0) },
                   durationTS: s["duration_ts"] as? Int, timeBase: s["time_base"] as? String)
        }
    }

    public struct ProbeError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
