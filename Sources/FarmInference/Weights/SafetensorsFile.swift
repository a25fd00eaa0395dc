import Foundation

/// A safetensors file read into memory: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data.
///
/// Every tensor is checked when the file is opened (dtype known, byte range inside the file and exactly
/// `shape · dtype size` long, no overlaps), so a bad file fails at once with the tensor and rule it broke.
public struct SafetensorsFile: Sendable {
    /// Element types this reader converts to Float32.
    public enum DType: String, Sendable, CaseIterable {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"
        public var size: Int { self == .f32 ? 4 : 2 }
    }

    /// One tensor's header entry.
    public struct Entry: Hashable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// Byte range in the data section.
        public var range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    /// Largest header accepted (the format's own limit).
    public static let maxHeaderBytes = 100 << 20

    public let path: String
    /// The header's `__metadata__` (string to string).
    public let metadata: [String: String]
    /// Entries by name.
    public let entries: [String: Entry]
    private let bytes: Data
    private let dataStart: Int

    /// Reads and checks the file at `url`.
    /// - Throws: ``SafetensorsError`` for a missing, truncated or malformed file.
    public init(contentsOf url: URL) throws(SafetensorsError) {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafetensorsError(
                .missingFile, path: url.path, "cannot read the weights file (\(error.localizedDescription))")
        }
        try self.init(bytes: data, path: url.path)
    }

    /// Parses `bytes` (the whole file) as safetensors; `path` names it in errors.
    public init(bytes: Data, path: String) throws(SafetensorsError) {
        self.path = path
        self.bytes = bytes
        guard bytes.count >= 8 else {
            throw SafetensorsError(
                .truncated, path: path, "file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = bytes.withUnsafeBytes { raw in UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw SafetensorsError(
                .headerPastFile, path: path,
                "header length \(headerLength) points past the end of the file (\(bytes.count) bytes)")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw SafetensorsError(
                .badHeader, path: path, "header of \(headerLength) bytes exceeds \(Self.maxHeaderBytes)")
        }
        dataStart = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<dataStart))
        } catch {
            throw SafetensorsError(.badHeader, path: path, "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else {
            throw SafetensorsError(.badHeader, path: path, "header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any], let strings = m as? [String: String] else {
                    throw SafetensorsError(.badHeader, path: path, "__metadata__ must map strings to strings")
                }
                metadata = strings
                continue
            }
            entries[name] = try Self.entry(name, value, path: path, dataBytes: bytes.count - dataStart)
        }
        // Byte ranges must not overlap (the format also forbids holes; overlaps are what corrupt data).
        let sorted = entries.values.sorted { ($0.range.lowerBound, $0.name) < ($1.range.lowerBound, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.range.upperBound > b.range.lowerBound && !b.range.isEmpty
        {
            throw SafetensorsError(
                .badOffsets, path: path, "tensors \(a.name) and \(b.name) overlap in the data section")
        }
        self.metadata = metadata
        self.entries = entries
    }

    private static func entry(
        _ name: String, _ value: Any, path: String, dataBytes: Int
    ) throws(SafetensorsError) -> Entry {
        guard let e = value as? [String: Any], let dtypeName = e["dtype"] as? String,
            let shapeValues = e["shape"] as? [Any], let offsets = e["data_offsets"] as? [Any], offsets.count == 2
        else {
            throw SafetensorsError(
                .badHeader, path: path, "tensor \(name): entry needs dtype, shape and two data_offsets")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafetensorsError(
                .unknownDType, path: path,
                "tensor \(name): dtype \(dtypeName) is not supported (F32, F16, BF16 are)")
        }
        let shape = shapeValues.compactMap(integer)
        let bounds = offsets.compactMap(integer)
        guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }), bounds.count == 2 else {
            throw SafetensorsError(
                .badHeader, path: path, "tensor \(name): shape and data_offsets must be non-negative integers")
        }
        let (begin, end) = (bounds[0], bounds[1])
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw SafetensorsError(.badOffsets, path: path, "tensor \(name): shape \(shape) is too large")
            }
            count = p
        }
        guard begin >= 0, begin <= end else {
            throw SafetensorsError(
                .badOffsets, path: path, "tensor \(name): data_offsets [\(begin), \(end)] are reversed")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else {
            throw SafetensorsError(.badOffsets, path: path, "tensor \(name): shape \(shape) is too large")
        }
        guard end - begin == bytes else {
            throw SafetensorsError(
                .badOffsets, path: path,
                "tensor \(name): \(end - begin) bytes for shape \(shape) of "
                    + "\(dtype.rawValue), which needs \(bytes)")
        }
        guard end <= dataBytes else {
            throw SafetensorsError(
                .truncated, path: path,
                "tensor \(name): data ends at byte \(end) of a data section of \(dataBytes) bytes")
        }
        return Entry(name: name, dtype: dtype, shape: shape, range: begin..<end)
    }

    /// A JSON number with an integral value that fits `Int` (`NSNumber.intValue` would truncate `1.5` and wrap
    /// `1e30` into a plausible-looking offset).
    private static func integer(_ value: Any) -> Int? {
        if let i = value as? Int { return i }
        guard let n = value as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d.rounded() == d, abs(d) < 0x1p62 else { return nil }
        return Int(d)
    }

    /// Converts tensor `name` to Float32 into `out` (`entry.count` floats).
    /// - Throws: ``SafetensorsError`` `.missingTensor` when the file has no such tensor.
    public func read(_ name: String, into out: UnsafeMutablePointer<Float>) throws(SafetensorsError) {
        guard let e = entries[name] else {
            throw SafetensorsError(.missingTensor, path: path, "tensor \(name) is missing")
        }
        let start = dataStart + e.range.lowerBound
        bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + start
            switch e.dtype {
            case .f32:
                for i in 0..<e.count {
                    out[i] = Float(
                        bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            case .bf16:
                for i in 0..<e.count {
                    let h = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(h) << 16)
                }
            case .f16:
                for i in 0..<e.count {
                    out[i] = HalfFloat.float(
                        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            }
        }
    }

    /// Tensor `name` as a new array of Float32.
    public func floats(_ name: String) throws(SafetensorsError) -> [Float] {
        guard let e = entries[name] else {
            throw SafetensorsError(.missingTensor, path: path, "tensor \(name) is missing")
        }
        var out = [Float](repeating: 0, count: e.count)
        try out.withUnsafeMutableBufferPointer { (p) throws(SafetensorsError) in try read(name, into: p.baseAddress!) }
        return out
    }
}

/// IEEE 754 binary16 to Float32, in software (no `Float16` on x86 Linux toolchains).
enum HalfFloat {
    static func float(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa · 2^-24.
            let v = Float(mantissa) * Float(bitPattern: 0x3380_0000)
            return sign == 0 ? v : -v
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }
}
