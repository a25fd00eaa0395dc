/// A fixed-size, 64-byte-aligned run of Float32 that never moves or grows.
///
/// Weights and the activations of a forward pass live in these: they are allocated once, before the denoising
/// loop, and the kernels work on their raw pointers, so the loop itself allocates nothing.
public final class FloatBuffer: @unchecked Sendable {
    /// Number of floats.
    public let count: Int
    /// First float; valid for `count` elements while the buffer lives.
    public let base: UnsafeMutablePointer<Float>

    /// A zero-filled buffer of `count` floats.
    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer: negative count")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.update(from: s, count: values.count) }
        }
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// Bytes held.
    public var byteCount: Int { count * 4 }

    /// The floats `range` as a new array (for tests and results, not for hot paths).
    public func array(_ range: Range<Int>? = nil) -> [Float] {
        let r = range ?? 0..<count
        precondition(r.lowerBound >= 0 && r.upperBound <= count)
        return Array(UnsafeBufferPointer(start: base + r.lowerBound, count: r.count))
    }

    /// Copies `values` into the buffer starting at `offset`.
    public func write(_ values: [Float], at offset: Int = 0) {
        precondition(offset >= 0 && offset + values.count <= count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { (base + offset).update(from: s, count: values.count) }
        }
    }

    /// Sets every float to zero.
    public func zero() { base.update(repeating: 0, count: count) }
}
