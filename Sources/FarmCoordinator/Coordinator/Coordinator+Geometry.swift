import FarmCore
import FarmWire
import Foundation

extension Coordinator {
    /// The latent grid a job of `model` is planned with: the one it was planned with before (`job`), a built-in
    /// engine's, or the one workers running the engine declared.
    /// - Throws: ``SpecError`` naming `model.engine` when no worker has declared the engine yet, or the built-in
    ///   engine's own error (an unknown configuration).
    func geometry(for model: ModelSpec, job: String? = nil, source: String) throws(SpecError) -> EngineGeometry {
        if let job, let json = try? store.geometry(job: job), let g = try? Self.decodeGeometry(json) { return g }
        if let g = try config.geometry(model) { return g }
        if let g = declared[model.engine] { return g }
        throw SpecError(source: source, issues: [SpecIssue(
            field: "model.engine",
            rule: "no worker has offered engine \"\(model.engine)\" yet, so its latent grid is unknown; start a worker "
                + "with --engine-command \(model.engine)=COMMAND, then submit again")])
    }

    /// Keeps the grids a worker's engine processes declared (a later declaration of the same engine replaces an
    /// earlier one; jobs already planned keep theirs).
    func declare(_ h: Hello, worker: String) throws {
        for (engine, doc) in h.geometries ?? [:] {
            let g = try doc.geometry()
            guard declared[engine] != g else { continue }
            if let old = declared[engine] {
                log("engine \(engine): worker \(worker) declares another latent grid (\(doc.summary)) than before (\(GeometryDocument(old).summary)); new jobs use it")
            } else {
                log("engine \(engine): latent grid \(doc.summary), declared by worker \(worker)")
            }
            declared[engine] = g
            try store.declareGeometry(engine: engine, json: Self.encodeGeometry(g), worker: worker, now: Self.wall)
        }
        for (engine, version) in h.versions ?? [:] where engineVersions[engine] != version {
            if let old = engineVersions[engine] {
                log("engine \(engine): worker \(worker) runs version \(version), not \(old) as before; new jobs' segments are "
                    + "keyed with it (segments made by \(old) are not reused)")
            }
            engineVersions[engine] = version
            try store.declareVersion(engine: engine, version: version, worker: worker, now: Self.wall)
        }
    }

    static func encodeGeometry(_ g: EngineGeometry) -> String {
        String(decoding: WireJSON.encode(GeometryDocument(g)), as: UTF8.self)
    }

    static func decodeGeometry(_ json: String) throws -> EngineGeometry {
        try WireJSON.decoder.decode(GeometryDocument.self, from: Data(json.utf8)).geometry()
    }
}

extension GeometryDocument {
    /// One line for logs: `1+8k frames ≤ 121, ×32 px, 128 channels`.
    var summary: String {
        "1+\(temporalStride)k frames ≤ \(maxWindow), sides ×\(spatialMultiple), \(latentChannels) channels/\(spatialStride) px"
    }
}
