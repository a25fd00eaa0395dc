import FarmCore
import FarmStore
import Foundation

/// One job's film while its segments finish: the contiguous prefix of finished segments goes into a
/// ``FilmInProgress`` as it grows (chunks muxed, PCM encoded), so that when the last segment lands only the tail
/// is left to assemble.
///
/// A progressive film is only a head start: anything that puts it in doubt (a segment's artifact damaged or
/// refused, a segment finished again with other outputs) discards it, and the job's film is then assembled whole
/// at the end, as without it, with the damaged-artifact handling of a whole assembly.
///
/// `@unchecked Sendable`: everything but `queue` is touched only on `queue`, one per job, so that one job's tail
/// never waits behind another job's segments.
final class JobFilm: @unchecked Sendable {
    typealias Part = (key: String, chunk: String, audio: String)

    let job: String
    let queue: DispatchQueue
    private let format: OutputFormat
    private let artifacts: ArtifactStore
    private let assembler: any FilmAssembler
    private let workingDirectory: URL
    private let log: @Sendable (String) -> Void
    /// Finished segments not yet given to the film, by film position.
    private var waiting: [Int: Part] = [:]
    /// The segments given to the film, in film order.
    private var fed: [Part] = []
    private var film: (any FilmInProgress)?
    /// Set once the progressive film was given up: later segments are not read.
    private var givenUp = false

    init(job: String, format: OutputFormat, artifacts: ArtifactStore, assembler: any FilmAssembler,
         workingDirectory: URL, log: @escaping @Sendable (String) -> Void) {
        self.job = job
        queue = DispatchQueue(label: "reelfarm-assembly-\(job)")
        self.format = format
        self.artifacts = artifacts
        self.assembler = assembler
        self.workingDirectory = workingDirectory
        self.log = log
    }

    /// Segment `position` (film order) finished with these outputs: the film takes every segment the prefix now
    /// reaches. Runs on `queue`.
    func finished(_ position: Int, _ part: Part) {
        guard !givenUp else { return }
        if position < fed.count {
            // Finished again (a rerun): the film already holds this segment, and only the same outputs fit it.
            if fed[position] != part { giveUp("segment \(part.key) finished again with other outputs") }
            return
        }
        waiting[position] = part
        var next: [Part] = []
        while let part = waiting.removeValue(forKey: fed.count + next.count) { next.append(part) }
        guard !next.isEmpty else { return }
        do {
            if film == nil {
                try FileManager.default.createDirectory(at: workingDirectory, withIntermediateDirectories: true)
                film = try assembler.begin(format: format, workingDirectory: workingDirectory)
                guard film != nil else { return giveUp(nil) }
            }
            let parts = ArtifactFilm(segments: fed + next, artifacts: artifacts)
            try film?.append(parts)
            fed += next
        } catch {
            giveUp("\(error)")
        }
    }

    /// Writes the film to `output` from `parts` (every segment, in film order) if the progressive film holds a
    /// prefix of them; `false`, with nothing written, when it holds none (after a coordinator restart, or when it
    /// was given up) or finishing it failed (logged): the caller then assembles the film whole. Runs on `queue`;
    /// the progressive film is gone after.
    func finish(_ parts: [Part], to output: URL) -> Bool {
        defer { discard() }
        guard let film, !fed.isEmpty, fed.count <= parts.count,
              zip(fed, parts).allSatisfy({ $0 == $1 }) else { return false }
        do {
            try film.finish(ArtifactFilm(segments: parts, artifacts: artifacts), to: output)
            return true
        } catch {
            log("job \(job): finishing the film as its segments landed failed (\(error)); assembling it whole")
            return false
        }
    }

    /// Drops the film and its working file. Runs on `queue`.
    func discard() {
        film?.discard()
        film = nil
        fed = []
        waiting = [:]
        givenUp = true
    }

    private func giveUp(_ reason: String?) {
        if let reason { log("job \(job): the film will be assembled whole at the end (\(reason))") }
        discard()
    }
}
