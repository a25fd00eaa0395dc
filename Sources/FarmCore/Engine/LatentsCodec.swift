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

    /// Largest element count of one tensor, and of one step of it, that ``decode(_:)`` accepts (4 GiB of Float32
    /// values: far beyond any window an engine runs, small enough that no product of dimensions overflows).
    public static let maxElements = 1 << 30

    /// Reads latents written by ``encode(_:)``.
    /// - Throws: ``DecodeError`` naming what is wrong: magic, version, a rank outside 1...8, a negative or oversized
    ///   dimension, a shape whose element count overflows or exceeds ``maxElements`` or the bytes present, trailing
    ///   bytes, or video and audio that disagree on the number of steps. Never traps, and never allocates more than
    ///   the input's size.
    public static func decode(_ data: Data) throws(DecodeError) -> Latents {
        var reader = ByteReader(data)
        guard reader.take(4).map({ Data($0) }) == Data("RFLT".utf8) else { throw DecodeError(description: "latents: bad magic") }
        guard let version = reader.u32(), version == 1 else { throw DecodeError(description: "latents: unknown version") }
        var tensors: [LatentTensor] = []
        for name in ["video", "audio"] {
            guard let rank = reader.u32(), rank >= 1, rank <= 8 else { throw DecodeError(description: "latents: bad \(name) rank") }
            var shape: [Int] = []
            for axis in 0..<Int(rank) {
                guard let d = reader.i64() else { throw DecodeError(description: "latents: \(name) shape is truncated") }
                guard d >= 0, d <= Int64(maxElements) else {
                    throw DecodeError(description: "latents: \(name) dimension \(axis) is \(d), must be in 0...\(maxElements)")
                }
                shape.append(Int(d))
            }
            guard let n = LatentTensor.product(shape.dropFirst(), limit: maxElements)
                .flatMap({ LatentTensor.product([shape[0], $0], limit: maxElements) })
            else {
                throw DecodeError(description: "latents: \(name) tensor \(shape) holds more than \(maxElements) elements")
            }
            // Checked before allocating: a hostile shape must not make us reserve memory the data does not back.
            guard n <= reader.remaining / 4, let raw = reader.take(n * 4) else {
                throw DecodeError(description: "latents: \(name) tensor \(shape) is larger than the data")
            }
            var values = [Float](repeating: 0, count: n)
            raw.withUnsafeBytes { p in
                for i in 0..<n { values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            }
            do {
                tensors.append(try LatentTensor(validatingShape: shape, values: values, maxElements: maxElements))
            } catch {
                throw DecodeError(description: "latents: \(name): \(error)")
            }
        }
        guard reader.remaining == 0 else { throw DecodeError(description: "latents: \(reader.remaining) trailing bytes") }
        do {
            return try Latents(validating: tensors[0], audio: tensors[1])
        } catch {
            throw DecodeError(description: "latents: \(error)")
        }
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
    /// Most channels ``decode(_:channels:)`` accepts.
    public static let maxChannels = 1 << 16

    public static func encode(_ pcm: PCMBuffer) -> Data {
        var out = Data(capacity: pcm.samples.count * 4)
        pcm.samples.withUnsafeBufferPointer { p in
            for v in p { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Reads interleaved Float32 PCM of `channels` channels.
    /// - Throws: ``LatentsCodec/DecodeError`` when `channels` is outside 1...``maxChannels`` or the bytes are not
    ///   whole frames.
    public static func decode(_ data: Data, channels: Int) throws(LatentsCodec.DecodeError) -> PCMBuffer {
        // Bounded before multiplying: `4 * channels` must not overflow for a hostile channel count.
        guard channels > 0, channels <= maxChannels, data.count % (4 * channels) == 0 else {
            throw LatentsCodec.DecodeError(description: "pcm: \(data.count) bytes is not whole frames of \(channels) channels")
        }
        var values = [Float](repeating: 0, count: data.count / 4)
        data.withUnsafeBytes { p in
            for i in 0..<values.count { values[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
        }
        return PCMBuffer(channels: channels, samples: values)
    }
}
