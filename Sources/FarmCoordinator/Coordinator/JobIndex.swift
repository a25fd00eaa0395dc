import FarmCore
import FarmWire
import Foundation

/// What the loop keeps in memory about the jobs it has loaded (planned from their storyboards), so that a result or
/// a dispatch costs no store read: each job's plan, priority, reverse dependencies, tasks left, the outputs
/// finished since this process started, its chunk codec header and the engine identity its reuse keys name. All of
/// it can be built again from the store: a job is loaded on first use and unloaded when it stops running.
struct JobIndex {
    /// Each loaded job's storyboard with its plan.
    var contexts: [String: JobContext] = [:]
    /// A job's priority (fixed at submit, changed by a client), for the tasks its completions make ready.
    var priorities: [String: Int] = [:]
    /// Each loaded job's reverse dependencies (`task → tasks waiting for it`), from the plan the job was stored from.
    var dependents: [String: [String: [String]]] = [:]
    /// Tasks of a job not yet done, once known (see `result`).
    var unfinished: [String: Int] = [:]
    /// Output hashes of tasks finished since this process started, by job (the next segment's assignment needs its
    /// predecessor's tail at once); the store answers for the rest.
    var outputHashes: [String: [String: [String: String]]] = [:]
    /// Each job's chunk codec header (SPS/PPS), from its first accepted chunk: later chunks must match it.
    var chunkParameters: [String: Data] = [:]
    /// The engine identity each loaded job's reuse keys were made with (nil: not keyed), by job.
    var keyedVersions: [String: String?] = [:]
    /// Storyboards parsed for `status` (see ``Coordinator/statusSpec(_:)``): a bounded cache, any job.
    var statusSpecs: [String: JobSpec] = [:]
    /// Why each job's ready tasks cannot be placed (nil: they can), with the session table's membership it was
    /// worked out for: a bounded cache, any job.
    var waiting: [String: (membership: Int, reason: String?)] = [:]
    /// Listed jobs' summaries that do not change with time (not started, or finished), with the session table's
    /// membership they were made for (see ``Coordinator/statusReport(_:)``).
    var summaries: [String: (membership: Int, summary: JobSummary)] = [:]
    /// Latents read back from the artifact store for assignments, by artifact hash: a bounded cache.
    var tailCache: [String: Latents] = [:]

    /// Jobs planned in memory.
    var loaded: Int { contexts.count }

    /// Forgets what memory holds about `job` (it stopped running; it is loaded again from the store if it resumes).
    mutating func unload(_ job: String) {
        contexts[job] = nil
        priorities[job] = nil
        unfinished[job] = nil
        outputHashes[job] = nil
        dependents[job] = nil
        chunkParameters[job] = nil
        keyedVersions[job] = nil
    }
}
