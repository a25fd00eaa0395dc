import FarmCore
import FarmStore
import FarmWire
import Foundation

/// A connected worker as the coordinator sees it: identity on the ROUTER socket, capabilities, leases held.
///
/// Leases and the draining flag change only through its methods, so the ``SessionTable`` that owns it keeps its
/// counters (slots, busy slots, draining workers) and its index of workers with a free slot up to date.
final class WorkerSession {
    let identity: Data
    let id: String
    let hello: Hello
    /// Monotonic seconds of the last message from it.
    var lastSeen: Double
    /// The last time a liveness deadline was queued for it (see ``SessionTable/touch(_:now:)``).
    var queuedAt: Double
    private(set) var leases: [TaskKey: Int] = [:]
    /// When each lease was handed to (or confirmed by) this worker, monotonic seconds: a lease its heartbeats do not
    /// list once it is older than the liveness limit is lost.
    private(set) var leasedAt: [TaskKey: Double] = [:]
    private(set) var draining = false
    /// The latent grids its engine processes declared (checked by `hello`).
    let geometries: [String: EngineGeometry]
    /// The table it is in (nil once removed): told of every change that moves a counter.
    weak var table: SessionTable?

    init(identity: Data, id: String, hello: Hello, now: Double) {
        self.identity = identity
        self.id = id
        self.hello = hello
        lastSeen = now
        queuedAt = now
        geometries = (hello.geometries ?? [:]).compactMapValues { try? $0.geometry() }
    }

    var freeSlots: Int { draining ? 0 : max(0, hello.slots - leases.count) }

    /// Records a lease on this worker.
    func hold(_ key: TaskKey, attempt: Int, at now: Double) {
        change { leases[key] = attempt; leasedAt[key] = now }
    }

    /// Forgets a lease (finished, failed, lost or cancelled); returns its attempt if it was held.
    @discardableResult
    func release(_ key: TaskKey) -> Int? {
        var attempt: Int?
        change { attempt = leases.removeValue(forKey: key); leasedAt[key] = nil }
        return attempt
    }

    /// Keeps only the leases `keep` admits.
    func retain(_ keep: (TaskKey) -> Bool) {
        change {
            leases = leases.filter { keep($0.key) }
            leasedAt = leasedAt.filter { keep($0.key) }
        }
    }

    /// The worker drains: no new task goes to it.
    func startDraining() { change { draining = true } }

    /// It was asked to leave (`drain`): it finishes its tasks, says bye and exits; enabling it does not undo that.
    private(set) var leaving = false

    func startLeaving() {
        leaving = true
        startDraining()
    }

    /// It takes tasks again (the dashboard enabled it).
    func stopDraining() { change { draining = false } }

    private func change(_ body: () -> Void) {
        let before = (busy: leases.count, draining: draining, free: freeSlots)
        body()
        table?.sessionChanged(self, busy: leases.count - before.busy, drained: draining && !before.draining,
                              undrained: before.draining && !draining, hadFree: before.free > 0)
    }

    /// Whether this worker can run a task of `spec`: its engine at its frame size (with the latent grid the job was
    /// planned with, when it declares one), and the job's `requires:`.
    func fits(_ spec: JobSpec, geometry: EngineGeometry?) -> Bool {
        hello.engines.contains(spec.model.engine) && spec.output.width * spec.output.height <= hello.maxFramePixels
            && (geometry == nil || geometries[spec.model.engine].map { $0 == geometry } ?? true)
            && spec.requires.admit(device: hello.device, tags: hello.tags, memoryBytes: Int(hello.memoryBytes))
    }
}
