import Foundation

/// All weights of one MMDiT in one contiguous buffer, addressed by parameter name.
///
/// Immutable once built (seeded or loaded), so one instance serves any number of concurrent segments.
public final class ModelWeights: @unchecked Sendable {
    public let config: MMDiTConfig
    public let layout: ParameterLayout
    public let storage: FloatBuffer
    /// Metadata kept with the weights (`reelfarm.config`, `reelfarm.seed`).
    public let metadata: [String: String]
    private let offsets: [String: Int]

    init(config: MMDiTConfig, storage: FloatBuffer? = nil, metadata: [String: String]) {
        self.config = config
        layout = ParameterLayout(config)
        self.storage = storage ?? FloatBuffer(count: layout.count)
        var offsets: [String: Int] = [:]
        var at = 0
        for p in layout.parameters {
            offsets[p.name] = at
            at += p.count
        }
        self.offsets = offsets
        var m = metadata
        m["reelfarm.config"] = config.json
        self.metadata = m
    }

    /// The floats of parameter `name`.
    public func pointer(_ name: String) -> UnsafeMutablePointer<Float> {
        guard let o = offsets[name] else { preconditionFailure("ModelWeights: no parameter \(name)") }
        return storage.base + o
    }

    /// The shape of parameter `name`.
    public func shape(_ name: String) -> [Int] {
        guard let p = layout.parameters.first(where: { $0.name == name }) else {
            preconditionFailure("ModelWeights: no parameter \(name)")
        }
        return p.shape
    }

    /// Parameter `name`'s values (for tests and tools).
    public func values(_ name: String) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer(name), count: shape(name).reduce(1, *)))
    }

    /// Bytes of all weights.
    public var byteCount: Int { storage.byteCount }

    /// Writes the weights as a safetensors file (F32), with the configuration in the metadata.
    /// - Throws: ``SafetensorsError`` `.writeFailed`.
    public func write(to url: URL) throws(SafetensorsError) {
        var writer = SafetensorsWriter(metadata: metadata)
        for p in layout.parameters { writer.add(p.name, shape: p.shape, values: storage, offset: offsets[p.name]!) }
        try writer.write(to: url)
    }

    /// Loads weights from a safetensors file.
    /// - Parameters:
    ///   - expected: the configuration the caller wants; nil takes the one the file names.
    /// - Throws: ``SafetensorsError`` when the file is unreadable or malformed, was made for another configuration,
    ///   lacks a tensor, has a tensor of the wrong shape or one the model does not know.
    public static func load(
        contentsOf url: URL, expecting expected: MMDiTConfig? = nil
    ) throws(SafetensorsError) -> ModelWeights {
        let file = try SafetensorsFile(contentsOf: url)
        return try load(file, expecting: expected)
    }

    /// Loads weights from an opened safetensors file (see ``load(contentsOf:expecting:)``).
    public static func load(
        _ file: SafetensorsFile, expecting expected: MMDiTConfig? = nil
    ) throws(SafetensorsError) -> ModelWeights {
        let stored = file.metadata["reelfarm.config"].flatMap(MMDiTConfig.init(json:))
        guard let config = stored ?? expected else {
            throw SafetensorsError(
                .configMismatch, path: file.path, "metadata has no reelfarm.config, and no configuration was given")
        }
        if let expected, let stored, stored != expected {
            throw SafetensorsError(
                .configMismatch, path: file.path,
                "weights were made for configuration \"\(stored.name)\" \(stored.json), not \"\(expected.name)\"")
        }
        let problems = config.problems
        guard problems.isEmpty else {
            throw SafetensorsError(
                .configMismatch, path: file.path, "configuration is unusable: \(problems.joined(separator: "; "))")
        }
        let weights = ModelWeights(config: config, metadata: file.metadata)
        var known = Set<String>()
        for p in weights.layout.parameters {
            known.insert(p.name)
            guard let e = file.entries[p.name] else {
                throw SafetensorsError(.missingTensor, path: file.path, "tensor \(p.name) \(p.shape) is missing")
            }
            guard e.shape == p.shape else {
                throw SafetensorsError(
                    .shapeMismatch, path: file.path,
                    "tensor \(p.name) has shape \(e.shape), configuration \"\(config.name)\" needs \(p.shape)")
            }
            try file.read(p.name, into: weights.pointer(p.name))
        }
        if let extra = file.entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw SafetensorsError(
                .shapeMismatch, path: file.path,
                "tensor \(extra) is not part of configuration \"\(config.name)\"")
        }
        return weights
    }
}
