import FarmCore
import FarmStore
import FarmWire
import Foundation

/// What the dashboard can play of one shot.
enum ShotPreviewSource: Sendable {
    /// A running job whose shot has every segment finished: an MP4 of those segments, assembled on demand.
    case parts(job: String, shot: Int, format: OutputFormat, parts: [JobFilm.Part])
    /// A done job: the shot cut from its film (picture copied, sound re-encoded from exactly its samples).
    case film(job: String, shot: Int, file: URL, layout: FilmLayout, format: OutputFormat)
}

extension Coordinator {
    /// The preview of shot `shot` (its id in the storyboard, or its index from 0) of a job: its segments once they
    /// have all finished, or its cut of the film once the job is done.
    /// - Throws: ``ShotLookupError`` for a shot the storyboard does not have; `WireError` (`invalid`) while some of
    ///   its segments have not finished, or when the job's storyboard or its film's layout cannot be read.
    func shotPreviewSource(_ query: String?, shot: String) throws -> ShotPreviewSource {
        let job = try resolveJob(query)
        guard let spec = jobIndex.contexts[job.id]?.spec ?? statusSpec(job) else {
            throw WireError(.invalid, "job \(job.id)'s storyboard cannot be read")
        }
        let ids = spec.shots.map(\.id)
        guard let index = ids.firstIndex(of: shot) ?? Int(shot).flatMap({ ids.indices.contains($0) ? $0 : nil }) else {
            throw ShotLookupError(job: job.id, shot: String(shot.prefix(64)), shots: Array(ids.prefix(20)))
        }
        if job.state == .done, let film = job.film {
            let layout: FilmLayout
            do {
                let geometry = try geometry(for: spec.model, job: job.id, source: job.source)
                layout = FilmLayout(spec: spec, plan: try Planner.plan(spec, geometry: geometry, source: job.source))
            } catch {
                throw WireError(.invalid, "job \(job.id)'s film cannot be laid out by shot: \(error)")
            }
            return .film(job: job.id, shot: index, file: store.artifacts.url(film), layout: layout, format: spec.output)
        }
        let run = try finishedRun(job: job.id, shot: index)
        guard run.segments > 0, run.parts.count == run.segments else {
            throw WireError(.invalid, "job \(job.id) is \(job.state.rawValue); shot \(ids[index]) has \(run.finished) of "
                            + "\(run.segments) segments finished")
        }
        return .parts(job: job.id, shot: index, format: spec.output, parts: run.parts)
    }
}

/// A shot that the job's storyboard does not have (HTTP 404, naming the shots it has).
struct ShotLookupError: Error, CustomStringConvertible {
    var job: String
    var shot: String
    var shots: [String]
    var description: String {
        "job \(job) has no shot \(shot) (its shots: \(shots.joined(separator: ", ")))"
    }
}
