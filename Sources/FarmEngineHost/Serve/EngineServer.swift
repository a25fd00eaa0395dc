#if canImport(Glibc)
import Glibc
#endif
import FarmCore
import FarmWire
import Foundation

/// The engine side of the contract for an in-process Swift engine: `reelfarm engine serve testcard|mmdit`.
///
/// It answers tasks one at a time until `shutdown` or the end of its input, so the contract is exercised without
/// Python and a worker can run the Swift engines out of process.
public final class EngineServer: @unchecked Sendable {
    public let ready: EngineReady
    let name: String
    /// The engine for a task's model (configuration, weights, seed); throws when this process cannot serve it.
    let factory: @Sendable (ModelDescription) throws -> any Engine
    private var engines: [String: any Engine] = [:]
    let channel: EngineChannel
    let log: @Sendable (String) -> Void

    /// - Parameters:
    ///   - geometry: what the handshake declares (every engine `factory` builds must have it).
    ///   - input, output: the descriptors the contract runs over (stdin and a private copy of stdout).
    public init(name: String, geometry: EngineGeometry, version: String, device: String = "cpu", deviceMemoryBytes: Int64,
                input: Int32, output: Int32, factory: @escaping @Sendable (ModelDescription) throws -> any Engine,
                log: @escaping @Sendable (String) -> Void) {
        self.name = name
        self.factory = factory
        self.log = log
        ready = EngineReady(engine: name, version: version, device: device, deviceMemoryBytes: deviceMemoryBytes,
                            geometry: geometry)
        channel = EngineChannel(input: input, output: output)
    }

    private func engine(for model: ModelDescription) throws -> any Engine {
        let key = "\(model.config ?? "")|\(model.weights ?? "")|\(model.seed)"
        if let e = engines[key] { return e }
        let e = try factory(model)
        guard e.geometry == (try? ready.geometry.geometry()) else {
            throw EngineContractError("model \(model.config ?? "(default)") has another latent grid than this process declared")
        }
        engines[key] = e
        return e
    }

    /// Serves until `shutdown` or end of input.
    /// - Returns: 0 after a clean end, 2 after a contract error from the worker's side.
    public func serve() -> Int32 {
        do {
            try channel.send(EngineMessage(.ready, ready), until: EngineChannel.now() + 60)
            while true {
                // Idle between tasks for as long as the worker likes; once a message starts it must arrive whole.
                while !channel.hasInput() { usleep(20_000) }
                let m = try channel.receive(until: EngineChannel.now() + 600, maxBytes: 8 << 30)
                switch m.kind {
                case .shutdown: return 0
                case .cancel: continue  // crossed our answer: nothing runs
                case .segment, .anchors: try answer(m)
                default: throw EngineContractError("unexpected \(m.kind) between tasks")
                }
            }
        } catch let e as EngineChannel.ChannelError where e.reason == .closed {
            return 0
        } catch {
            log("\(name): \(error)")
            return 2
        }
    }

    private struct Stop: Error {}

    private func answer(_ m: EngineMessage) throws {
        var id = "?"
        do {
            let model: ModelDescription
            let t0 = EngineChannel.now()
            if m.kind == .segment {
                let r = try m.payload(SegmentRequest.self)
                id = r.segment.id
                model = r.model
                let task = try r.segment.task(blobs: m.blobs)
                let result = try engine(for: model).generate(task, progress: progress(id))
                var pcm = Data(count: result.audio.samples.count * 4)
                pcm.withUnsafeMutableBytes { p in
                    for (i, v) in result.audio.samples.enumerated() { p.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
                }
                try channel.send(EngineMessage(.result, TaskNote(task: id, seconds: EngineChannel.now() - t0),
                                               blobs: [LatentsCodec.encode(result.tail), Data(result.frames.rgb), pcm]),
                                 until: EngineChannel.now() + 600)
            } else {
                let r = try m.payload(AnchorRequest.self)
                id = r.anchors.id
                model = r.model
                let task = try r.anchors.task(blobs: m.blobs)
                let latents = try engine(for: model).anchors(task, progress: progress(id))
                try channel.send(EngineMessage(.result, TaskNote(task: id, seconds: EngineChannel.now() - t0),
                                               blobs: [LatentsCodec.encode(latents)]), until: EngineChannel.now() + 600)
            }
        } catch is Stop {
            try channel.send(EngineMessage(.cancelled, TaskNote(task: id)), until: EngineChannel.now() + 60)
        } catch let e as EngineChannel.ChannelError {
            throw e
        } catch {
            log("\(name): \(id) failed: \(error)")
            try channel.send(EngineMessage(.failed, TaskNote(task: id, message: "\(error)")), until: EngineChannel.now() + 60)
        }
    }

    /// Sends progress; throws ``Stop`` once a cancel for task `id` has arrived.
    private func progress(_ id: String) -> ProgressHandler {
        let channel = self.channel
        return { done, total in
            try channel.send(EngineMessage(.progress, TaskNote(task: id, done: done, total: total)), until: EngineChannel.now() + 600)
            var stop = false
            while channel.hasInput() {
                let m = try channel.receive(until: EngineChannel.now() + 60, maxBytes: 0)
                if m.kind == .shutdown { throw EngineChannel.ChannelError(reason: .closed, description: "shutdown") }
                guard m.kind == .cancel else { throw EngineContractError("unexpected \(m.kind) while task \(id) runs") }
                if (try? m.payload(TaskNote.self))?.task == id { stop = true }
            }
            if stop { throw Stop() }
        }
    }

    /// Moves stdout aside for the contract: returns a private descriptor for it, and points fd 1 at stderr so that
    /// nothing printed can corrupt the stream.
    public static func takeStandardOutput() -> Int32 {
        let out = dup(1)
        dup2(2, 1)
        return out
    }
}
