import FarmCore
import FarmStore
import FarmWire
import Foundation

/// A connected worker as the coordinator sees it: identity on the ROUTER socket, capabilities, leases held.
final class WorkerSession {
    let identity: Data
    let id: String
    var hello: Hello
    var lastSeen: Double
    var leases: [TaskKey: Int] = [:]
    /// When each lease was handed to (or confirmed by) this worker, monotonic seconds: a lease its heartbeats do not
    /// list once it is older than the liveness limit is lost.
    var leasedAt: [TaskKey: Double] = [:]
    var draining = false
    /// The latent grids its engine processes declared (checked by `hello`).
    let geometries: [String: EngineGeometry]

    init(identity: Data, id: String, hello: Hello, now: Double) {
        self.identity = identity
        self.id = id
        self.hello = hello
        lastSeen = now
        geometries = (hello.geometries ?? [:]).compactMapValues { try? $0.geometry() }
    }

    var freeSlots: Int { draining ? 0 : max(0, hello.slots - leases.count) }

    /// Whether this worker can run a task of `spec`: its engine at its frame size (with the latent grid the job was
    /// planned with, when it declares one), and the job's `requires:`.
    func fits(_ spec: JobSpec, geometry: EngineGeometry?) -> Bool {
        hello.engines.contains(spec.model.engine) && spec.output.width * spec.output.height <= hello.maxFramePixels
            && (geometry == nil || geometries[spec.model.engine].map { $0 == geometry } ?? true)
            && spec.requires.admit(device: hello.device, tags: hello.tags, memoryBytes: Int(hello.memoryBytes))
    }
}
