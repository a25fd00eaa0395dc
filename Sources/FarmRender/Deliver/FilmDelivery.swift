import FarmCore
import FarmMedia
import Foundation

/// Hands a finished film over to editorial: an OpenTimelineIO timeline of its shots and joins, and one MP4 per shot.
/// Used by `reelfarm fetch` (a farm job) and `reelfarm deliver` (a film on disk and its storyboard) alike.
public enum FilmDelivery {
    /// A delivery that cannot be made: the film does not fit the storyboard, or an output cannot be written.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Plans `spec` with `geometry` and lays the film out.
    /// - Throws: ``SpecError`` when the model settings do not fit the grid.
    public static func layout(spec: JobSpec, geometry: EngineGeometry, source: String) throws(SpecError) -> FilmLayout {
        let plan = try Planner.plan(spec, geometry: geometry, source: source)
        return FilmLayout(spec: spec, plan: plan)
    }

    /// The file name of shot `shot` in a split: its position from 001 and its id (`003-cliff.mp4`).
    public static func shotFileName(_ shot: FilmLayout.Shot) -> String {
        let number = String(shot.index + 1)
        return String(repeating: "0", count: max(0, 3 - number.count)) + number + "-" + shot.id + ".mp4"
    }

    /// Writes one MP4 per shot into `folder` (which must exist).
    /// - Returns: the files, in shot order.
    /// - Throws: ``Failure`` when the film's length or sound does not fit the layout; media errors.
    @discardableResult
    public static func splitShots(film: URL, layout: FilmLayout, format: OutputFormat,
                                  into folder: URL) throws -> [URL] {
        let splitter = ShotSplitter(film: film)
        let audio: PCMBuffer
        do { audio = try splitter.sound(fitting: layout, format: format) } catch let mismatch as ShotSplitter.Mismatch {
            throw Failure(mismatch.description)
        }
        let outputs = layout.shots.map { folder.appendingPathComponent(shotFileName($0)) }
        do {
            try splitter.split(layout: layout, format: format, audio: audio, to: outputs)
        } catch let error as MediaError {
            throw Failure("\(film.path): \(error)")
        }
        return outputs
    }

    /// Checks the film at `film` against the layout without writing anything (frames and samples).
    public static func checkFilm(_ film: URL, layout: FilmLayout, format: OutputFormat) throws {
        let decoded = try FilmDecoder(url: film).decode(pictures: false) { _ in }
        if let problem = layout.mismatch(frames: decoded.frameCount, samples: decoded.audioSampleCount,
                                         sampleRate: decoded.sampleRate, channels: decoded.channels, format: format) {
            throw Failure("\(film.path): \(problem)")
        }
    }

    /// Writes the OpenTimelineIO timeline to `output` (through a temporary file renamed into place).
    public static func writeOTIO(title: String, layout: FilmLayout, media: OTIOTimeline.Media, to output: URL) throws {
        let data = OTIOTimeline(title: title, layout: layout, media: media).json()
        try data.write(to: output, options: .atomic)
    }
}
