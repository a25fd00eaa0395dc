import FarmCore
import FarmWire
import Foundation

/// `ready`: what an engine process says about itself once its model is loaded.
public struct EngineReady: Codable, Sendable, Equatable {
    public var contract: Int
    public var engine: String
    public var version: String
    /// `cpu` or `cuda:N`.
    public var device: String
    public var deviceMemoryBytes: Int64
    public var geometry: GeometryDocument

    public init(engine: String, version: String, device: String, deviceMemoryBytes: Int64, geometry: EngineGeometry) {
        contract = Int(EngineMessage.contractVersion)
        self.engine = engine
        self.version = version
        self.device = device
        self.deviceMemoryBytes = deviceMemoryBytes
        self.geometry = GeometryDocument(geometry)
    }

    /// The handshake checked against the name the engine was started as.
    /// - Throws: ``EngineContractError`` naming the field that is wrong.
    public func validated(as name: String) throws(EngineContractError) -> EngineGeometry {
        guard contract == Int(EngineMessage.contractVersion) else {
            throw EngineContractError("ready: contract \(contract), this worker speaks \(EngineMessage.contractVersion)")
        }
        guard engine == name else { throw EngineContractError("ready: engine \"\(engine)\" was started as \"\(name)\"") }
        guard !version.isEmpty, version.utf8.count <= 200 else { throw EngineContractError("ready: version is empty or too long") }
        guard device == "cpu" || device.hasPrefix("cuda:") && Int(device.dropFirst(5)).map({ $0 >= 0 }) == true
            || device == "mps" else {
            throw EngineContractError("ready: device \"\(device.prefix(40))\" is not cpu, cuda:N or mps")
        }
        guard deviceMemoryBytes >= 0 else { throw EngineContractError("ready: device_memory_bytes is negative") }
        do { return try geometry.geometry() } catch { throw EngineContractError("ready: \(error.message)") }
    }
}

/// `segment`: a segment task for the engine (the farm's `assign` minus the lease).
struct SegmentRequest: Codable {
    var model: ModelDescription
    var segment: SegmentDescription
}

/// `anchors`: an anchor pass for the engine.
struct AnchorRequest: Codable {
    var model: ModelDescription
    var anchors: AnchorDescription
}

/// `progress`, `result`, `failed`, `cancel`, `cancelled`: the task they are about, and what they say.
struct TaskNote: Codable {
    var task: String
    var done: Int?
    var total: Int?
    var message: String?
    /// Seconds the engine spent computing the task (in `result`; optional), for the contract's overhead figure.
    var seconds: Double?
}
