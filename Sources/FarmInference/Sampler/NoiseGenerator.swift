import Foundation

/// Which latent stream a noise draw is for.
public enum LatentStream: UInt32, Sendable, CaseIterable {
    case video = 0
    case audio = 1
}

/// Where a run of noise comes from: the same key gives the same floats on any machine, in any order.
public struct NoiseKey: Hashable, Sendable {
    public var seed: UInt64
    /// Segment index within the shot (anchor passes use negative indices).
    public var segment: Int
    public var stream: LatentStream
    /// Sampler step the noise is drawn at (0: the starting noise).
    public var step: Int

    public init(seed: UInt64, segment: Int, stream: LatentStream, step: Int = 0) {
        self.seed = seed
        self.segment = segment
        self.stream = stream
        self.step = step
    }
}

/// Gaussian noise from Philox4x32-10, a counter-based generator: element `n` of a key is a pure function of the
/// key and `n`, so a segment's noise needs no generator state carried from anywhere.
///
/// Key: the seed's two 32-bit halves. Counter: (`n / 4` low, `n / 4` high, segment, stream << 24 | step). Each
/// block of four 32-bit words gives four normals by Box–Muller on the pairs (w0, w1) and (w2, w3), computed in
/// Double and rounded once to Float.
public enum NoiseGenerator {
    @inline(__always)
    static func mulhilo(_ a: UInt32, _ b: UInt32) -> (hi: UInt32, lo: UInt32) {
        let p = UInt64(a) * UInt64(b)
        return (UInt32(p >> 32), UInt32(truncatingIfNeeded: p))
    }

    /// Philox4x32 with 10 rounds.
    public static func philox(_ counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for _ in 0..<10 {
            let (hi0, lo0) = mulhilo(0xD251_1F53, c[0])
            let (hi1, lo1) = mulhilo(0xCD9E_8D57, c[2])
            c = SIMD4(hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0)
            k &+= SIMD2(0x9E37_79B9, 0xBB67_AE85)
        }
        return c
    }

    /// Writes `count` standard normals of `key` to `out`.
    public static func fill(_ out: UnsafeMutablePointer<Float>, count: Int, key: NoiseKey) {
        let k = SIMD2(UInt32(truncatingIfNeeded: key.seed), UInt32(truncatingIfNeeded: key.seed >> 32))
        let c2 = UInt32(truncatingIfNeeded: key.segment)
        let c3 = key.stream.rawValue << 24 | UInt32(truncatingIfNeeded: key.step) & 0xFF_FFFF
        var block = 0
        while block * 4 < count {
            let w = philox(
                SIMD4(UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), c2, c3), key: k)
            for pair in 0..<2 {
                let u0 = (Double(w[2 * pair]) + 0.5) / 4_294_967_296
                let u1 = (Double(w[2 * pair + 1]) + 0.5) / 4_294_967_296
                let r = (-2 * Foundation.log(u0)).squareRoot()
                let n = block * 4 + 2 * pair
                if n < count { out[n] = Float(r * Foundation.cos(2 * Double.pi * u1)) }
                if n + 1 < count { out[n + 1] = Float(r * Foundation.sin(2 * Double.pi * u1)) }
            }
            block += 1
        }
    }

    /// `count` standard normals of `key`.
    public static func normals(count: Int, key: NoiseKey) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { if let p = $0.baseAddress { fill(p, count: count, key: key) } }
        return out
    }
}
