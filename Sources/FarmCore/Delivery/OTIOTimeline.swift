import Foundation

/// A film as an OpenTimelineIO timeline (the `.otio` JSON): a video and an audio track with one clip per shot, and a
/// marker at every segment join.
///
/// Times are whole frames on the video track (rate: the film's fps) and whole samples on the audio track (rate: the
/// sample rate), so every clip's range is exact: OTIO stores `value` and `rate` as doubles, and integers up to 2⁵³
/// survive that unchanged. A rate such as 30000/1001 is not a double exactly, so each clip's metadata also carries
/// the exact fps and its frame and sample range as integers (`metadata.reelfarm`).
/// Schemas: `Timeline.1`, `Stack.1`, `Track.1`, `Clip.2`, `ExternalReference.1`, `MissingReference.1`,
/// `Marker.2`, `TimeRange.1`, `RationalTime.1`.
public struct OTIOTimeline: Sendable {
    /// What the clips point at.
    public enum Media: Sendable {
        /// The whole film at this URL: each clip is its shot's range of it.
        case film(url: String)
        /// One file per shot (``FilmLayout/shots`` order), each starting at zero.
        case shots(urls: [String])
        /// No media on disk (a timeline written without the film).
        case none
    }

    public let title: String
    public let layout: FilmLayout
    public let media: Media

    public init(title: String, layout: FilmLayout, media: Media) {
        self.title = title
        self.layout = layout
        self.media = media
    }

    /// The `.otio` document, UTF-8 JSON.
    public func json() -> Data {
        let clock = layout.clock
        let fpsRate = clock.fps.approximation
        let sampleRate = Double(clock.sampleRate)
        var timelineMeta = JSONValue.object([
            ("fps", .string(clock.fps.description)), ("sample_rate", .int(clock.sampleRate)),
            ("total_frames", .int(layout.totalFrames)), ("total_samples", .int(layout.totalSamples)),
        ])
        timelineMeta = .object([("reelfarm", timelineMeta)])
        let video = track(name: "Video", kind: "Video", rate: fpsRate, units: "frames", total: layout.totalFrames,
                          range: \.frames,
                          markerPosition: \.frame)
        let audio = track(name: "Audio", kind: "Audio", rate: sampleRate, units: "samples", total: layout.totalSamples,
                          range: \.samples,
                          markerPosition: \.sample)
        let stack = JSONValue.object([
            ("OTIO_SCHEMA", .string("Stack.1")), ("metadata", .object([])), ("name", .string("tracks")),
            ("source_range", .null), ("effects", .array([])), ("markers", .array([])), ("enabled", .bool(true)),
            ("children", .array([video, audio])),
        ])
        let timeline = JSONValue.object([
            ("OTIO_SCHEMA", .string("Timeline.1")), ("metadata", timelineMeta), ("name", .string(title)),
            ("global_start_time", .null), ("tracks", stack),
        ])
        return Data((timeline.text(indent: 0) + "\n").utf8)
    }

    private func track(name: String, kind: String, rate: Double, units: String, total: Int,
                       range: KeyPath<FilmLayout.Shot, TimeRange>,
                       markerPosition: KeyPath<FilmLayout.Join, Int>) -> JSONValue {
        let clips = layout.shots.enumerated().map { i, shot -> JSONValue in
            let r = shot[keyPath: range]
            let reference: JSONValue
            let start: Int
            switch media {
            case .film(let url):
                reference = Self.external(url: url, available: Self.timeRange(0, total, rate))
                start = r.lower
            case .shots(let urls):
                // One file per shot; a shorter list (a caller's mistake) leaves the rest without a target.
                reference = Self.external(url: i < urls.count ? urls[i] : "", available: Self.timeRange(0, r.count, rate))
                start = 0
            case .none:
                reference = .object([
                    ("OTIO_SCHEMA", .string("MissingReference.1")), ("metadata", .object([])), ("name", .string("")),
                    ("available_range", .null), ("available_image_bounds", .null),
                ])
                start = r.lower
            }
            let meta = JSONValue.object([("reelfarm", .object([
                ("shot", .int(shot.index)), ("prompt", .string(shot.prompt)), ("camera", .string(shot.camera)),
                ("sound", .string(shot.sound)), ("transition", .string(shot.transition.rawValue)),
                ("fps", .string(layout.clock.fps.description)), ("sample_rate", .int(layout.clock.sampleRate)),
                ("frames", .array([.int(shot.frames.lower), .int(shot.frames.upper)])),
                ("samples", .array([.int(shot.samples.lower), .int(shot.samples.upper)])),
            ]))])
            return .object([
                ("OTIO_SCHEMA", .string("Clip.2")), ("metadata", meta), ("name", .string(shot.id)),
                ("source_range", Self.timeRange(start, r.count, rate)), ("effects", .array([])),
                ("markers", .array([])),
                ("enabled", .bool(true)), ("media_references", .object([("DEFAULT_MEDIA", reference)])),
                ("active_media_reference_key", .string("DEFAULT_MEDIA")),
            ])
        }
        let markers = layout.joins.map { join -> JSONValue in
            let color = switch join.kind { case .inShot: "RED"; case .continue: "YELLOW"; case .cut: "GREEN" }
            return .object([
                ("OTIO_SCHEMA", .string("Marker.2")),
                ("metadata", .object([("reelfarm", .object([
                    ("kind", .string(join.kind.rawValue)), ("before", .string(join.before)),
                    ("after", .string(join.after)),
                    ("frame", .int(join.frame)), ("sample", .int(join.sample)),
                ]))])),
                ("name", .string("\(join.kind.rawValue) join \(join.before) | \(join.after)")),
                ("color", .string(color)),
                ("marked_range", Self.timeRange(join[keyPath: markerPosition], 0, rate)),
                ("comment", .string("segment join at " + (units == "frames" ? "frame \(join.frame)" : "sample \(join.sample)"))),
            ])
        }
        return .object([
            ("OTIO_SCHEMA", .string("Track.1")), ("metadata", .object([])), ("name", .string(name)),
            ("source_range", .null), ("effects", .array([])), ("markers", .array(markers)), ("enabled", .bool(true)),
            ("children", .array(clips)), ("kind", .string(kind)),
        ])
    }

    private static func external(url: String, available: JSONValue) -> JSONValue {
        .object([
            ("OTIO_SCHEMA", .string("ExternalReference.1")), ("metadata", .object([])), ("name", .string("")),
            ("available_range", available), ("available_image_bounds", .null), ("target_url", .string(url)),
        ])
    }

    private static func timeRange(_ start: Int, _ duration: Int, _ rate: Double) -> JSONValue {
        .object([
            ("OTIO_SCHEMA", .string("TimeRange.1")),
            ("duration", rationalTime(duration, rate)), ("start_time", rationalTime(start, rate)),
        ])
    }

    private static func rationalTime(_ value: Int, _ rate: Double) -> JSONValue {
        .object([
            ("OTIO_SCHEMA", .string("RationalTime.1")), ("rate", .double(rate)), ("value", .double(Double(value))),
        ])
    }
}

/// A JSON value written with its keys in the order given (OTIO files read best that way) and doubles always with a
/// fraction or exponent, as OTIO's reader expects for `RationalTime` fields.
enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    func text(indent: Int) -> String {
        let pad = String(repeating: "    ", count: indent + 1), end = String(repeating: "    ", count: indent)
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            let s = "\(d)"
            return s.contains(".") || s.contains("e") ? s : s + ".0"
        case .string(let s): return Self.quoted(s)
        case .array(let items):
            guard !items.isEmpty else { return "[]" }
            return "[\n" + items.map { pad + $0.text(indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "]"
        case .object(let pairs):
            guard !pairs.isEmpty else { return "{}" }
            return "{\n" + pairs.map { pad + Self.quoted($0.0) + ": " + $0.1.text(indent: indent + 1) }
                .joined(separator: ",\n") + "\n" + end + "}"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
