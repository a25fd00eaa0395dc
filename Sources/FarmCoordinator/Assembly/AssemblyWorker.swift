import FarmCore
import FarmStore
import Foundation

/// Assembles finished jobs on threads of their own (an AAC encode takes seconds), reading chunks and PCM from the
/// artifact store a segment at a time (``ArtifactFilm``), so the coordinator loop keeps serving while a film is
/// built and its memory does not grow with the film.
///
/// While a job runs, its film is assembled as the contiguous prefix of finished segments grows (``JobFilm``), so that
/// when the last segment lands only the tail is left. A job without such a film (its earlier segments finished
/// before a coordinator restart, its progressive film given up, or a retry after a failed assembly) is assembled
/// whole, as `reelfarm render` does; the file is the same either way.
final class AssemblyWorker: @unchecked Sendable {
    /// A finished assembly: the film's artifact hash and size, or the error and any stored outputs found damaged.
    struct Outcome {
        var job: String
        var film: Result<(hash: String, size: Int), any Error>
        var damaged: [DamagedArtifact] = []
        /// How the film was made, for the log.
        var how = ""
    }

    private let store: FarmStore
    private let assembler: any FilmAssembler
    private let lock = NSLock()
    private var done: [Outcome] = []
    /// Films of running jobs, assembled as their segments finish.
    private var films: [String: JobFilm] = [:]
    /// Jobs whose film was dropped since a ``resume(_:)`` began (it stops feeding them).
    private var discarded: Set<String> = []
    /// Rebuilds after a restart, one job at a time (a store of a thousand jobs must not start a thousand readers).
    private let resuming = DispatchQueue(label: "reelfarm-assembly-resume", qos: .utility)
    /// Where progressive films keep their working files (emptied at start: a film in progress dies with its process).
    private let workingDirectory: URL
    /// Each finished segment's first and last frames, for the dashboard.
    let thumbnails: ThumbnailShelf
    private let log: @Sendable (String) -> Void

    init(store: FarmStore, assembler: any FilmAssembler, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.assembler = assembler
        self.log = log
        workingDirectory = store.artifacts.root.deletingLastPathComponent().appendingPathComponent("assembly")
        try? FileManager.default.removeItem(at: workingDirectory)
        thumbnails = ThumbnailShelf(directory: workingDirectory.deletingLastPathComponent().appendingPathComponent("thumbnails"),
                                    artifacts: store.artifacts, log: log)
    }

    /// What the coordinator loop tells the assembly, once the transaction that decided it has committed.
    enum Notice {
        /// A segment's result was recorded: its film takes it once every segment before it has finished.
        case segmentFinished(job: String, format: OutputFormat, position: Int, key: String, chunk: String,
                             audio: String)
        /// Every task of the job is done: assemble its film (``submit(_:)``).
        case assemble(job: String)
        /// The job stopped, finished or was deleted: drop its film in progress (``discard(_:)``).
        case discard(job: String)
        /// A coordinator restarted with the job unfinished: its film in progress is built again from the segments
        /// it had finished (``resume(_:parts:)``).
        case resume(job: JobRecord, parts: [FarmStore.FinishedSegment])
        /// The job was deleted: its thumbnails go too.
        case forget(job: String)
    }

    /// Acts on `notice`; returns at once apart from ``submit(_:)``'s store reads (the loop thread calls it).
    func hear(_ notice: Notice) {
        switch notice {
        case let .segmentFinished(job, format, position, key, chunk, audio):
            segmentFinished(job: job, format: format, position: position, key: key, chunk: chunk, audio: audio)
        case .assemble(let job): submit(job)
        case .discard(let job): discard(job)
        case let .resume(job, parts): resume(job, parts: parts)
        case .forget(let job): thumbnails.forget(job)
        }
    }

    /// Builds `job`'s film in progress again from the segments it had finished (read from the store by the loop:
    /// this connection is the loop's), off the loop thread: what a restarted coordinator does for each unfinished
    /// job, so that its film is still ready a moment after its last segment. Segments finishing meanwhile join as
    /// usual (the film takes them in film order whoever tells it).
    func resume(_ job: JobRecord, parts: [FarmStore.FinishedSegment]) {
        lock.withLock { _ = discarded.remove(job.id) }
        resuming.async { [self] in
            let format: OutputFormat
            do { format = try job.plannedSpec().output } catch {
                return log("job \(job.id): its film in progress cannot be built again after the restart (\(error)); it "
                           + "will be assembled whole")
            }
            for p in parts {
                // A job stopped meanwhile keeps no film.
                if lock.withLock({ discarded.contains(job.id) }) { return }
                segmentFinished(job: job.id, format: format, position: p.position, key: p.key, chunk: p.chunk, audio: p.audio)
            }
        }
    }

    /// Segment `position` (film order) of `job` finished with these chunk and PCM artifacts: its film takes it as soon
    /// as every segment before it has finished too. Returns at once (the loop thread calls it).
    func segmentFinished(job: String, format: OutputFormat, position: Int, key: String, chunk: String, audio: String) {
        let film = lock.withLock {
            if let film = films[job] { return film }
            let film = JobFilm(job: job, format: format, artifacts: store.artifacts, assembler: assembler,
                               workingDirectory: workingDirectory, log: log)
            films[job] = film
            return film
        }
        film.queue.async { film.finished(position, (key, chunk, audio)) }
        thumbnails.segmentFinished(job: job, key: key, chunk: chunk)
    }

    /// Drops `job`'s film in progress and its working file, if any (the job stopped, was deleted or runs again).
    func discard(_ job: String) {
        guard let film = lock.withLock({ () -> JobFilm? in
            discarded.insert(job)
            return films.removeValue(forKey: job)
        }) else { return }
        film.queue.async { film.discard() }
    }

    /// Queues `job` for assembly. Reads what it needs from the store before leaving the caller's thread.
    func submit(_ job: String) {
        let inputs: Result<(JobSpec, [(key: String, chunk: String, audio: String)]), any Error> = Result {
            guard let record = try store.job(job) else { throw AssemblyError(description: "job \(job) is gone") }
            // Assembly needs the output format only: no file is looked at.
            let spec = try record.plannedSpec()
            let outputs = try store.outputs(job: job)
            let segments = try store.tasks(job: job).filter { $0.kind == "segment" }.sorted { $0.position < $1.position }
            return (spec, try segments.map { t in
                guard let c = outputs[t.key]?["chunk"], let a = outputs[t.key]?["audio"] else {
                    throw AssemblyError(description: "segment \(t.key) has no chunk or audio")
                }
                return (t.key, c, a)
            })
        }
        let artifacts = store.artifacts
        let assembler = self.assembler
        // After the film's segments, on its queue; a job without one gets a queue of its own.
        let progressive = lock.withLock { films.removeValue(forKey: job) }
        let queue = progressive?.queue ?? DispatchQueue(label: "reelfarm-assembly-\(job)")
        let submitted = DispatchTime.now().uptimeNanoseconds
        queue.async { [self] in
            var damaged: [DamagedArtifact] = []
            var how = "assembled whole"
            let film = Result<(hash: String, size: Int), any Error> {
                let (spec, parts) = try inputs.get()
                let temporary = artifacts.root.deletingLastPathComponent().appendingPathComponent("film-\(job).mp4")
                if let progressive, progressive.finish(parts, to: temporary) {
                    how = "assembled as its segments finished"
                } else {
                    let film = ArtifactFilm(segments: parts, artifacts: artifacts)
                    defer { damaged = film.damage.all }
                    try assembler.assemble(film, format: spec.output, to: temporary)
                }
                return try artifacts.adopt(temporary)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - submitted) / 1e9
            how += String(format: ", stored %.2f s after its last segment", seconds)
            lock.withLock { done.append(Outcome(job: job, film: film, damaged: damaged, how: how)) }
        }
    }
    /// Assemblies finished since the last call.
    func finished() -> [Outcome] {
        lock.withLock {
            defer { done.removeAll() }
            return done
        }
    }

    struct AssemblyError: Error, CustomStringConvertible {
        var description: String
    }
}

extension Coordinator {
    func finishAssembly(_ outcome: AssemblyWorker.Outcome) {
        do {
            switch outcome.film {
            case .success(let film):
                try store.setJob(outcome.job, state: .done, film: film.hash, filmSize: film.size, now: Self.wall)
                gauges.filmsTotal += 1
                gauges.framesTotal += (try? store.tasks(job: outcome.job).reduce(0) { $0 + $1.frames }) ?? 0
                unload(outcome.job)
                var freed: [String] = []
                if !config.keepIntermediates {
                    // Deleted after the commit (a crash in between leaves files nothing refers to, never the reverse).
                    do {
                        freed = try store.atomically { try store.releaseIntermediates(job: outcome.job) }
                        afterCommit += freed
                    } catch {
                        log("job \(outcome.job): could not release its intermediate artifacts: \(error)")
                    }
                }
                log("job \(outcome.job) done: film \(film.hash.prefix(12)) (\(film.size) bytes, \(outcome.how))"
                    + (freed.isEmpty ? "" : "; \(freed.count) intermediate artifacts released"))
            case .failure(let error):
                if !outcome.damaged.isEmpty, try rerunDamaged(outcome) { return }
                try store.setJob(outcome.job, state: .failed, error: "assembly failed: \(error)", now: Self.wall)
                log("job \(outcome.job) failed in assembly: \(error)")
            }
        } catch {
            log("could not record assembly of \(outcome.job): \(error)")
        }
    }
}

extension Coordinator {
    /// An output damaged on disk since its result was accepted: the segments that made it run again (their
    /// results are deterministic, so the film comes out the same), once. `false` when that was already done once.
    func rerunDamaged(_ outcome: AssemblyWorker.Outcome) throws -> Bool {
        let keys = Array(Set(outcome.damaged.map(\.segment))).sorted()
        guard let ready = try store.rerunDamaged(job: outcome.job, keys: keys, now: Self.wall) else { return false }
        // The damaged files go once this commits: the rerun's outputs are stored under the same names.
        afterCommit += Set(outcome.damaged.map(\.hash))
        for t in ready { queue.push(t) }
        for damage in outcome.damaged { log("job \(outcome.job): \(damage)") }
        log("job \(outcome.job): running \(keys.joined(separator: ", ")) again for damaged outputs")
        return true
    }
}
