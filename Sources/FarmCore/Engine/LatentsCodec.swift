import Foundation

/// Latents as bytes, for artifacts and the wire: `"RFLT"`, version 1, then the video and the audio tensor, each as
/// rank (UInt32), dims (Int64 each) and Float32 values, all little-endian.
public enum LatentsCodec {
    public struct DecodeError: Error, CustomStringConvertible {
        public var description: String
    }

    public static func encode(_ latents: Latents) -> Data {
        var out = Data("RFLT".utf8)
        append(UInt32(1), to: &out)
        for t in [latents.video, latents.audio] {
            append(UInt32(t.shape.count), to: &out)
            for d in t.shape { append(Int64(d), to: &out) }
            t.values.withUnsafeBufferPointer { p in
                for v in p { append(v.bitPattern, to: &out) }
            }
        }
        return out
    }

    public static func decode(_ data: Data) throws(DecodeError) -> Latents {
        var reader = ByteReader(data)
        guard reader.take(4).map({ Data($0) }) == Data("RFLT".utf8) else { throw DecodeError(description: "latents: bad magic") }
        guard let version = reader.u32(), version == 1 else { throw DecodeError(description: "latents: unknown version") }
        var tensors: [LatentTensor] = []
        for name in ["video", "audio"] {
            guard let rank = reader.u32(), rank >= 1, rank <= 8 else { throw DecodeError(description: "latents: bad \(name) rank") }
            var shape: [Int] = []
            for _ in 0..<rank {
                guard let d = reader.i64(), d >= 0, d < 1 << 31 else { throw DecodeError(description: "latents: bad \(name) dimension") }
                shape.append(Int(d))
            }
            let (n, overflow) = shape.reduce((1, false)) { acc, d in
                let m = acc.0.multipliedReportingOverflow(by: d)
                return (m.partialValue, acc.1 || m.overflow)
            }
            guard !overflow, n <= reader.remaining / 4, let raw = reader.take(n * 4) else {
                throw DecodeError(description: "latents: \(name) tensor \(shape) is larger than the data")
            }
            var values = [Float](repeating: 0, count: n)
            raw.withUnsafeBytes { p in
                for i in 0..<n { values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            }
            tensors.append(LatentTensor(shape: shape, values: values))
        }
        guard reader.remaining == 0 else { throw DecodeError(description: "latents: \(reader.remaining) trailing bytes") }
        guard tensors[0].shape.first == tensors[1].shape.first else {
            throw DecodeError(description: "latents: video and audio disagree on the number of steps")
        }
        return Latents(video: tensors[0], audio: tensors[1])
    }

    static func append<T: FixedWidthInteger>(_ v: T, to data: inout Data) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }
}

/// Reads little-endian integers from a byte buffer without trapping on short input.
public struct ByteReader {
    let data: Data
    var offset: Int

    public init(_ data: Data) {
        self.data = data
        offset = data.startIndex
    }

    public var remaining: Int { data.endIndex - offset }

    public mutating func take(_ n: Int) -> Data? {
        guard n >= 0, n <= remaining else { return nil }
        defer { offset += n }
        return data[offset ..< offset + n]
    }

    public mutating func u32() -> UInt32? { integer() }
    public mutating func i64() -> Int64? { integer() }
    public mutating func u8() -> UInt8? { integer() }

    mutating func integer<T: FixedWidthInteger>() -> T? {
        guard let bytes = take(MemoryLayout<T>.size) else { return nil }
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }
}

/// PCM as bytes: Float32 little-endian, interleaved.
public enum PCMCodec {
    public static func encode(_ pcm: PCMBuffer) -> Data {
        var out = Data(capacity: pcm.samples.count * 4)
        pcm.samples.withUnsafeBufferPointer { p in
            for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    public static func decode(_ data: Data, channels: Int) throws(LatentsCodec.DecodeError) -> PCMBuffer {
        guard channels > 0, data.count % (4 * channels) == 0 else {
            throw LatentsCodec.DecodeError(description: "pcm: \(data.count) bytes is not whole frames of \(channels) channels")
        }
        var values = [Float](repeating: 0, count: data.count / 4)
        data.withUnsafeBytes { p in
            for i in 0..<values.count { values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        }
        return PCMBuffer(channels: channels, samples: values)
    }
}
