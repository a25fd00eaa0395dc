import FarmCore
import FarmWire
import Foundation

/// An engine that runs in engine processes (ENGINES.md): it sends each task to a warm process of its pool and
/// checks everything that comes back before the worker encodes or uploads it.
public struct ProcessEngine: Engine {
    public let name: String
    public let geometry: EngineGeometry
    public let pool: EngineProcessPool
    /// The task's model settings (configuration, weights) the process is told with every task.
    public let model: ModelDescription

    public init(pool: EngineProcessPool, geometry: EngineGeometry, model: ModelDescription) {
        name = pool.name
        self.pool = pool
        self.geometry = geometry
        self.model = model
    }

    public func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult {
        let f = task.format
        let (d, blobs) = SegmentDescription.make(task)
        let request = EngineMessage(.segment, SegmentRequest(model: model, segment: d), blobs: blobs)
        let steps = geometry.latentCount(forFrames: task.generate.count)
        let tailSteps = min(task.tailLatents, steps)
        let shapes = geometry.stepShapes(for: f)
        // Saturating: a task of absurd size gets an absurd limit, not an overflow trap (its results fail the checks).
        let frameBytes = Self.product([task.own.count, f.width, f.height, 3])
        let audioBytes = Self.product([task.samples.count, f.channels, 4])
        let tailBytes = Self.product([tailSteps, 4, Self.sum([Self.product(shapes.video), Self.product(shapes.audio)])])
        let limit = Self.sum([frameBytes, audioBytes, tailBytes, 256])
        let m = try pool.withProcess { p in
            try p.run(request, task: task.id, maxBytes: limit, progress: progress)
        }
        do {
            return try Self.segmentResult(m, task: task, tailSteps: tailSteps, shapes: shapes, engine: name)
        } catch {
            throw EngineProcessError("engine \(name): \(task.id): \(error)")
        }
    }

    static func sum(_ v: [Int]) -> Int { v.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 } }

    static func product(_ v: [Int]) -> Int {
        v.reduce(1) { n, d in let (m, o) = n.multipliedReportingOverflow(by: d); return o || d < 0 ? Int.max : m }
    }

    /// The checked result: three blobs of exactly the owned frames, samples and tail steps.
    static func segmentResult(_ m: EngineMessage, task: SegmentTask, tailSteps: Int, shapes: (video: [Int], audio: [Int]),
                              engine: String) throws -> SegmentResult {
        let f = task.format
        guard m.blobs.count == 3 else { throw EngineContractError("result carries \(m.blobs.count) blobs, a segment's has 3") }
        let tail: Latents
        do { tail = try LatentsCodec.decode(m.blobs[0]) } catch { throw EngineContractError("tail: \(error)") }
        try checkLatents(tail, steps: tailSteps, shapes: shapes, what: "tail")
        let frameBytes = task.own.count * f.width * f.height * 3
        guard m.blobs[1].count == frameBytes else {
            throw EngineContractError("frames blob has \(m.blobs[1].count) bytes; \(task.own.count) frames of \(f.width)×\(f.height) RGB24 are \(frameBytes)")
        }
        let values = task.samples.count * f.channels
        guard m.blobs[2].count == values * 4 else {
            throw EngineContractError("audio blob has \(m.blobs[2].count) bytes; \(task.samples.count) samples × \(f.channels) channels of Float32 are \(values * 4)")
        }
        var samples = [Float](repeating: 0, count: values)
        m.blobs[2].withUnsafeBytes { p in
            for i in 0..<values { samples[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        }
        if let i = samples.firstIndex(where: { !$0.isFinite }) {
            throw EngineContractError("audio sample \(i / f.channels) channel \(i % f.channels) is not finite")
        }
        let frames = VideoFrames(width: f.width, height: f.height, count: task.own.count, rgb: [UInt8](m.blobs[1]))
        // Only the tail crosses the contract: it stands for the latents (nothing downstream reads more).
        return SegmentResult(latents: tail, frames: frames, audio: PCMBuffer(channels: f.channels, samples: samples), tail: tail)
    }

    static func checkLatents(_ l: Latents, steps: Int, shapes: (video: [Int], audio: [Int]), what: String) throws {
        guard l.count == steps else { throw EngineContractError("\(what) has \(l.count) latent steps, the task needs \(steps)") }
        guard Array(l.video.shape.dropFirst()) == shapes.video, Array(l.audio.shape.dropFirst()) == shapes.audio else {
            throw EngineContractError("\(what) steps are video \(Array(l.video.shape.dropFirst())) and audio \(Array(l.audio.shape.dropFirst())); "
                                      + "the engine declared \(shapes.video) and \(shapes.audio)")
        }
        guard l.video.values.allSatisfy(\.isFinite), l.audio.values.allSatisfy(\.isFinite) else {
            throw EngineContractError("\(what) holds values that are not finite")
        }
    }

    public func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents {
        let (d, blobs) = AnchorDescription.make(task)
        let request = EngineMessage(.anchors, AnchorRequest(model: model, anchors: d), blobs: blobs)
        let shapes = geometry.stepShapes(for: task.format)
        let maxBytes = Self.sum([Self.product([task.frames.count, 4, Self.sum([Self.product(shapes.video), Self.product(shapes.audio)])]), 256])
        let m = try pool.withProcess { p in try p.run(request, task: task.id, maxBytes: maxBytes, progress: progress) }
        do {
            guard m.blobs.count == 1 else { throw EngineContractError("result carries \(m.blobs.count) blobs, an anchor pass's has 1") }
            let l: Latents
            do { l = try LatentsCodec.decode(m.blobs[0]) } catch { throw EngineContractError("anchors: \(error)") }
            try Self.checkLatents(l, steps: task.frames.count, shapes: shapes, what: "anchors")
            return l
        } catch {
            throw EngineProcessError("engine \(name): \(task.id): \(error)")
        }
    }
}
