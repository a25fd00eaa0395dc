import Foundation

/// Multi-head attention computed in tiles with an online softmax (FlashAttention's recurrence on the CPU).
///
/// For each tile of `queryTile` queries, the keys are visited `keyTile` at a time: one `sgemm` per head gives that
/// tile's scores, which are exponentiated against a running row maximum (rows of all heads spread over the cores)
/// and folded into the output by a second `sgemm` per head; earlier partial sums are rescaled when the maximum
/// grows. Memory is one score tile per head plus two floats per query row and head, whatever the sequence length;
/// no `N × N` matrix ever exists.
public struct TiledAttention: Sendable {
    public let queryTile: Int
    public let keyTile: Int

    public init(queryTile: Int = 256, keyTile: Int = 512) {
        precondition(queryTile >= 1 && keyTile >= 1)
        self.queryTile = queryTile
        self.keyTile = keyTile
    }

    /// Floats of scratch one call with `heads` heads needs.
    public func scratchCount(heads: Int) -> Int { heads * (queryTile * keyTile + 2 * queryTile) }

    /// `out[i, h] = softmax_j(q[i, h] · k[j, h] / sqrt(headDim)) · v[j, h]` for every head `h`.
    /// - Parameters:
    ///   - q, k, v, out: row-major with row strides `ldq`, `ldk`, `ldv`, `ldo`; head `h` occupies floats
    ///     `h · headDim ..< (h + 1) · headDim` of a row.
    ///   - scratch: at least ``scratchCount(heads:)`` floats.
    public func run(
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        out: UnsafeMutablePointer<Float>, ldo: Int, queries: Int, keys: Int, heads: Int, headDim: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        guard queries > 0 else { return }
        precondition(keys > 0, "attention over no keys")
        let tile = queryTile * keyTile
        let rowMax = scratch + heads * tile
        let rowSum = rowMax + heads * queryTile
        let alpha = 1 / Float(headDim).squareRoot()
        var q0 = 0
        while q0 < queries {
            let bq = min(queryTile, queries - q0)
            var k0 = 0
            while k0 < keys {
                let bk = min(keyTile, keys - k0)
                for h in 0..<heads {
                    BLAS.gemm(
                        .none, .transposed, m: bq, n: bk, k: headDim, alpha: alpha, a: q + q0 * ldq + h * headDim,
                        lda: ldq, b: k + k0 * ldk + h * headDim, ldb: ldk, c: scratch + h * tile, ldc: bk)
                }
                let first = k0 == 0
                Parallel.chunks(heads * bq, grain: 32) { rows in
                    for r in rows {
                        let (h, i) = r.quotientAndRemainder(dividingBy: bq)
                        let row = scratch + h * tile + i * bk
                        let at = h * queryTile + i
                        let m = VectorMath.max(row, count: bk)
                        if first {
                            rowMax[at] = m
                            rowSum[at] = VectorMath.expShifted(row, count: bk, shift: m)
                        } else {
                            let newMax = Swift.max(rowMax[at], m)
                            let correction = VectorMath.exp(rowMax[at] - newMax)
                            rowMax[at] = newMax
                            rowSum[at] = rowSum[at] * correction + VectorMath.expShifted(row, count: bk, shift: newMax)
                            if correction != 1 {
                                VectorMath.scale(out + (q0 + i) * ldo + h * headDim, count: headDim, by: correction)
                            }
                        }
                    }
                }
                for h in 0..<heads {
                    BLAS.gemm(
                        .none, .none, m: bq, n: headDim, k: bk, a: scratch + h * tile, lda: bk,
                        b: v + k0 * ldv + h * headDim, ldb: ldv, beta: first ? 0 : 1, c: out + q0 * ldo + h * headDim,
                        ldc: ldo)
                }
                k0 += bk
            }
            Parallel.chunks(heads * bq, grain: 64) { rows in
                for r in rows {
                    let (h, i) = r.quotientAndRemainder(dividingBy: bq)
                    VectorMath.scale(
                        out + (q0 + i) * ldo + h * headDim, count: headDim, by: 1 / rowSum[h * queryTile + i])
                }
            }
            q0 += bq
        }
    }
}
