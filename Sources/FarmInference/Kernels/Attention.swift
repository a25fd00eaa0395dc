import Foundation

/// Multi-head attention computed in tiles with an online softmax (FlashAttention's recurrence on the CPU).
///
/// For each head and each tile of `queryTile` queries, the keys are visited `keyTile` at a time: the scores of
/// one tile come from one `sgemm`, are exponentiated against a running row maximum, and are folded into the output
/// by a second `sgemm`; earlier partial sums are rescaled when the maximum grows. Memory is the two tiles plus
/// three floats per query row, whatever the sequence length; no `N × N` matrix ever exists.
public struct TiledAttention: Sendable {
    public let queryTile: Int
    public let keyTile: Int

    public init(queryTile: Int = 256, keyTile: Int = 512) {
        precondition(queryTile >= 1 && keyTile >= 1)
        self.queryTile = queryTile
        self.keyTile = keyTile
    }

    /// Floats of scratch one call needs.
    public var scratchCount: Int { queryTile * keyTile + 2 * queryTile }

    /// `out[i, h] = softmax_j(q[i, h] · k[j, h] / sqrt(headDim)) · v[j, h]` for every head `h`.
    /// - Parameters:
    ///   - q, k, v, out: row-major with row strides `ldq`, `ldk`, `ldv`, `ldo`; head `h` occupies floats
    ///     `h · headDim ..< (h + 1) · headDim` of a row.
    ///   - scratch: at least ``scratchCount`` floats.
    public func run(
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int, queries: Int, keys: Int, heads: Int, headDim: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        guard queries > 0 else { return }
        precondition(keys > 0, "attention over no keys")
        let scores = scratch
        let rowMax = scratch + queryTile * keyTile
        let rowSum = rowMax + queryTile
        let alpha = 1 / Float(headDim).squareRoot()
        for h in 0..<heads {
            let off = h * headDim
            var q0 = 0
            while q0 < queries {
                let bq = min(queryTile, queries - q0)
                let o = out + q0 * ldo + off
                var k0 = 0
                while k0 < keys {
                    let bk = min(keyTile, keys - k0)
                    BLAS.gemm(.none, .transposed, m: bq, n: bk, k: headDim, alpha: alpha, a: q + q0 * ldq + off, lda: ldq,
                              b: k + k0 * ldk + off, ldb: ldk, c: scores, ldc: bk)
                    for i in 0..<bq {
                        let row = scores + i * bk
                        let m = VectorMath.max(row, count: bk)
                        if k0 == 0 {
                            rowMax[i] = m
                            rowSum[i] = VectorMath.expShifted(row, count: bk, shift: m)
                        } else {
                            let newMax = Swift.max(rowMax[i], m)
                            let correction = VectorMath.exp(rowMax[i] - newMax)
                            rowMax[i] = newMax
                            rowSum[i] = rowSum[i] * correction + VectorMath.expShifted(row, count: bk, shift: newMax)
                            if correction != 1 { VectorMath.scale(o + i * ldo, count: headDim, by: correction) }
                        }
                    }
                    BLAS.gemm(.none, .none, m: bq, n: headDim, k: bk, a: scores, lda: bk, b: v + k0 * ldv + off, ldb: ldv,
                              beta: k0 == 0 ? 0 : 1, c: o, ldc: ldo)
                    k0 += bk
                }
                for i in 0..<bq { VectorMath.scale(o + i * ldo, count: headDim, by: 1 / rowSum[i]) }
                q0 += bq
            }
        }
    }
}
