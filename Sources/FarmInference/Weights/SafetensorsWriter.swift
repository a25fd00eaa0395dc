import Foundation

/// Writes Float32 tensors as a safetensors file: header length, JSON header (names sorted, padded with spaces
/// to a multiple of 8 bytes), then the data in the same order, little-endian.
public struct SafetensorsWriter {
    private var tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] = []
    private var owners: [FloatBuffer] = []
    public var metadata: [String: String]

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Adds tensor `name` of `shape` whose floats are `values` (kept alive by the writer until it is written).
    public mutating func add(_ name: String, shape: [Int], values: FloatBuffer, offset: Int = 0) {
        let count = shape.reduce(1, *)
        precondition(offset + count <= values.count, "SafetensorsWriter: \(name) runs past its buffer")
        tensors.append((name, shape, UnsafeBufferPointer(start: values.base + offset, count: count)))
        owners.append(values)
    }

    /// Adds tensor `name` from an array.
    public mutating func add(_ name: String, shape: [Int], values: [Float]) {
        precondition(
            shape.reduce(1, *) == values.count, "SafetensorsWriter: \(name) has \(values.count) values for \(shape)")
        add(name, shape: shape, values: FloatBuffer(values))
    }

    /// The file's bytes.
    public func encoded() -> Data {
        let ordered = tensors.sorted { $0.name < $1.name }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for t in ordered {
            let bytes = t.values.count * 4
            header[t.name] =
                ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in ordered {
            var le = [UInt32](repeating: 0, count: t.values.count)
            for i in 0..<t.values.count { le[i] = t.values[i].bitPattern.littleEndian }
            le.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Writes the file to `url` (through a temporary file renamed into place).
    /// - Throws: ``SafetensorsError`` `.writeFailed`.
    public func write(to url: URL) throws(SafetensorsError) {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        do {
            try encoded().write(to: tmp)
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            try FileManager.default.moveItem(at: tmp, to: url)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw SafetensorsError(
                .writeFailed, path: url.path, "cannot write the weights file (\(error.localizedDescription))")
        }
    }
}
