import FarmCore
import FarmStore
import Foundation

/// Assembles finished jobs on a thread of its own (an AAC encode takes seconds), reading chunks and PCM from the
/// artifact store a segment at a time (``ArtifactFilm``), so the coordinator loop keeps serving while a film is
/// built and its memory does not grow with the film.
final class AssemblyWorker: @unchecked Sendable {
    /// A finished assembly: the film's artifact hash and size, or the error and any stored outputs found damaged.
    struct Outcome {
        var job: String
        var film: Result<(hash: String, size: Int), any Error>
        var damaged: [DamagedArtifact] = []
    }

    private let store: FarmStore
    private let assembler: any FilmAssembler
    private let lock = NSLock()
    private var done: [Outcome] = []
    private let queue = DispatchQueue(label: "reelfarm-assembly")

    init(store: FarmStore, assembler: any FilmAssembler) {
        self.store = store
        self.assembler = assembler
    }

    /// Queues `job` for assembly. Reads what it needs from the store before leaving the caller's thread.
    func submit(_ job: String) {
        let inputs: Result<(JobSpec, [(key: String, chunk: String, audio: String)]), any Error> = Result {
            guard let record = try store.job(job) else { throw AssemblyError(description: "job \(job) is gone") }
            // Assembly needs the output format only: no file is looked at.
            let spec = try JobSpec.parse(record.storyboard, source: record.source, checkingFiles: false)
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
        queue.async { [self] in
            var damaged: [DamagedArtifact] = []
            let film = Result<(hash: String, size: Int), any Error> {
                let (spec, parts) = try inputs.get()
                let temporary = artifacts.root.deletingLastPathComponent().appendingPathComponent("film-\(job).mp4")
                let film = ArtifactFilm(segments: parts, artifacts: artifacts)
                defer { damaged = film.damage.all }
                try assembler.assemble(film, format: spec.output, to: temporary)
                let (hash, size) = try ArtifactStore.digest(fileAt: temporary)
                try artifacts.adopt(temporary, hash: hash)
                return (hash, size)
            }
            lock.withLock { done.append(Outcome(job: job, film: film, damaged: damaged)) }
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
                log("job \(outcome.job) done: film \(film.hash.prefix(12)) (\(film.size) bytes)"
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
