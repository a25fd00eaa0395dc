import FarmCore
import FarmWire
import Foundation

/// How a worker runs and what it offers the farm.
public struct WorkerConfiguration: Sendable {
    /// The coordinator's endpoint, e.g. `tcp://127.0.0.1:7700`.
    public var coordinator: String
    public var name: String
    public var slots: Int
    public var engines: [String]
    /// `cpu` or `gpu`.
    public var device: String
    public var tags: [String]
    public var memoryBytes: Int64
    public var maxFramePixels: Int
    /// Builds the engine for a task's model (cached per model by the worker).
    public var engineFactory: @Sendable (ModelSpec) throws -> any Engine
    public var encoder: any ChunkEncoder
    /// The coordinator counts as silent after this long without a message (it sends one at least every 2 s): the
    /// worker says so, starts its reconnect backoff, and a drain stops waiting to report.
    public var coordinatorSilenceMillis = 5_000
    public var heartbeatMillis = 1_000
    /// How long a drain (SIGTERM) waits for running tasks; those still running then are stopped and handed back.
    public var drainMillis = 10_000
    /// The latent grid of each engine it runs in engine processes, as their handshakes declared it (sent in `hello`).
    public var geometries: [String: GeometryDocument] = [:]
    /// Each engine's identity, code and weights (engine name → version; sent in `hello`): the coordinator reuses a
    /// finished segment for a later job only when the engine that made it said the identity its key names.
    public var versions: [String: String] = [:]
    /// CURVE towards a coordinator that uses it; `nil`: plain TCP.
    public var security: CurveClientSecurity?

    public init(coordinator: String, name: String, slots: Int, engines: [String], device: String, tags: [String],
                memoryBytes: Int64, maxFramePixels: Int, engineFactory: @escaping @Sendable (ModelSpec) throws -> any Engine,
                encoder: any ChunkEncoder) {
        self.coordinator = coordinator
        self.name = name
        self.slots = slots
        self.engines = engines
        self.device = device
        self.tags = tags
        self.memoryBytes = memoryBytes
        self.maxFramePixels = maxFramePixels
        self.engineFactory = engineFactory
        self.encoder = encoder
    }
}
