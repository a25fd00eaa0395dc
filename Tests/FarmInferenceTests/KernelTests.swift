import Foundation
import Testing

@testable import FarmInference

@Suite struct KernelTests {
    /// Attention the obvious way, in Double.
    static func naiveAttention(
        q: [Float], k: [Float], v: [Float], queries: Int, keys: Int, heads: Int, hd: Int, ld: Int
    )
        -> [Float]
    {
        var out = [Float](repeating: 0, count: queries * heads * hd)
        for h in 0..<heads {
            for i in 0..<queries {
                var scores = (0..<keys).map { j in
                    (0..<hd).reduce(0.0) { $0 + Double(q[i * ld + h * hd + $1]) * Double(k[j * ld + h * hd + $1]) }
                        / Double(hd).squareRoot()
                }
                let m = scores.max()!
                scores = scores.map { Foundation.exp($0 - m) }
                let sum = scores.reduce(0, +)
                for c in 0..<hd {
                    let acc = (0..<keys).reduce(0.0) { $0 + scores[$1] * Double(v[$1 * ld + h * hd + c]) }
                    out[i * heads * hd + h * hd + c] = Float(acc / sum)
                }
            }
        }
        return out
    }

    @Test(arguments: [(1, 1), (3, 5), (4, 64), (256, 512)])
    func tiledAttentionMatchesTheWholeSoftmax(queryTile: Int, keyTile: Int) {
        let (queries, keys, heads, hd) = (13, 29, 3, 8)
        let ld = heads * hd + 5  // strided rows, as in the joint qkv buffer
        // Large scores so the running maximum really moves between tiles.
        let q = randomFloats(queries * ld, seed: 1).map { $0 * 4 }
        let k = randomFloats(keys * ld, seed: 2).map { $0 * 4 }
        let v = randomFloats(keys * ld, seed: 3)
        let attention = TiledAttention(queryTile: queryTile, keyTile: keyTile)
        let scratch = FloatBuffer(count: attention.scratchCount(heads: heads))
        var out = [Float](repeating: 0, count: queries * heads * hd)
        attention.run(
            q: q, ldq: ld, k: k, ldk: ld, v: v, ldv: ld, out: &out, ldo: heads * hd, queries: queries, keys: keys,
            heads: heads, headDim: hd, scratch: scratch.base)
        let expected = Self.naiveAttention(q: q, k: k, v: v, queries: queries, keys: keys, heads: heads, hd: hd, ld: ld)
        #expect(maxRelativeError(out, expected) < 1e-5)
    }

    @Test func vectorExpIsAccurate() {
        var worst: Double = 0
        for i in 0..<20_000 {
            let x = Float(i) * 0.005 - 80
            worst = max(worst, abs(Double(VectorMath.exp(x)) - Foundation.exp(Double(x))) / Foundation.exp(Double(x)))
        }
        #expect(worst < 5e-7)
    }

    @Test func softmaxRowsIgnoreTheirPaddedTail() {
        for n in 1...19 {
            var row = randomFloats(n, seed: UInt64(n))
            let expected = row.map { Foundation.exp(Double($0) - 0.25) }.reduce(0, +)
            let sum = row.withUnsafeMutableBufferPointer {
                VectorMath.expShifted($0.baseAddress!, count: n, shift: 0.25)
            }
            #expect(abs(Double(sum) - expected) < 1e-5 * expected, "row of \(n)")
        }
    }

    @Test func modulatedLayerNormMatchesItsDefinition() {
        let (rows, n) = (3, 37)
        let x = randomFloats(rows * n, seed: 9).map { $0 * 3 + 1 }
        let shift = randomFloats(n, seed: 10)
        let scale = randomFloats(n, seed: 11)
        var out = [Float](repeating: 0, count: rows * n)
        Normalization.layerNormModulated(x, rows: rows, n: n, shift: shift, scale: scale, out: &out)
        for r in 0..<rows {
            let row = x[r * n..<(r + 1) * n].map(Double.init)
            let mean = row.reduce(0, +) / Double(n)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            for j in 0..<n {
                let want = (row[j] - mean) / (variance + 1e-6).squareRoot() * (1 + Double(scale[j])) + Double(shift[j])
                #expect(abs(Double(out[r * n + j]) - want) < 1e-5)
            }
        }
    }

    @Test func rotaryScoresDependOnlyOnTheTimeDifference() {
        // q at time t and k at time t + 3 score the same for every t, and the norm of a head is unchanged.
        let hd = 24
        let q0 = randomFloats(hd, seed: 5)
        let k0 = randomFloats(hd, seed: 6)
        var scores: [Float] = []
        for t in [0, 7, 100] as [Float] {
            let rope = RotaryEmbedding(
                positions: [TokenPosition(t: t, h: 2, w: 1), TokenPosition(t: t + 3, h: 2, w: 1)], headDim: hd)
            var q = q0
            var k = k0
            rope.apply(&q, rows: 1, ld: hd, heads: 1, first: 0)
            rope.apply(&k, rows: 1, ld: hd, heads: 1, first: 1)
            let norm: Float = q.map { $0 * $0 }.reduce(0, +)
            let norm0: Float = q0.map { $0 * $0 }.reduce(0, +)
            #expect(abs(norm - norm0) < 1e-4)
            scores.append(zip(q, k).map(*).reduce(0, +))
        }
        #expect(abs(scores[0] - scores[1]) < 1e-4 && abs(scores[0] - scores[2]) < 1e-3, "\(scores)")
    }

    @Test func gemmHonoursTransposesAndStrides() {
        // C (2×2, ld 3) = Aᵀ (A stored 3×2) · B (3×2, ld 4), beta 1 on a prefilled C.
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [1, 0, 9, 9, 0, 1, 9, 9, 1, 1, 9, 9]
        var c: [Float] = [10, 20, -1, 30, 40, -1]
        BLAS.gemm(.transposed, .none, m: 2, n: 2, k: 3, a: a, lda: 2, b: b, ldb: 4, beta: 1, c: &c, ldc: 3)
        let expected: [Float] = [16, 28, -1, 38, 50, -1]
        #expect(c == expected)
    }
}

/// The scalar twins that debug builds run give the same bits as the vector kernels release builds run.
@Suite struct VectorScalarAgreementTests {
    @Test func elementwiseFunctionsAgreeLaneForLane() {
        let xs = randomFloats(8 * 4096, seed: 21).enumerated().map { $1 * Float(1 + $0 % 90) }
        for start in stride(from: 0, to: xs.count, by: 8) {
            let v = VectorMath.V(xs[start..<start + 8])
            let (e, g, s) = (VectorMath.exp(v), VectorMath.gelu(v), VectorMath.silu(v))
            for lane in 0..<8 {
                let x = xs[start + lane]
                #expect(e[lane].bitPattern == VectorMath.exp(x).bitPattern, "exp(\(x))")
                #expect(g[lane].bitPattern == VectorMath.gelu(x).bitPattern, "gelu(\(x))")
                #expect(s[lane].bitPattern == VectorMath.silu(x).bitPattern, "silu(\(x))")
            }
        }
    }

    @Test func softmaxRowsAgreeBitForBit() {
        for n in [1, 7, 8, 9, 100, 515] {
            let row = randomFloats(n, seed: UInt64(n)).map { $0 * 6 }
            var a = row
            var b = row
            let sa = a.withUnsafeMutableBufferPointer {
                VectorMath.expShiftedVector($0.baseAddress!, count: n, shift: 1.5)
            }
            let sb = b.withUnsafeMutableBufferPointer {
                VectorMath.expShiftedScalar($0.baseAddress!, count: n, shift: 1.5)
            }
            #expect(sa.bitPattern == sb.bitPattern && a == b, "row of \(n)")
        }
    }
}

extension VectorScalarAgreementTests {
    @Test func rotaryAndRMSNormAgreeBitForBit() {
        for hd in [6, 16, 24, 30, 128] {
            let positions = (0..<5).map { TokenPosition(t: Float($0) * 2.5 - 3, h: Float($0 % 3), w: Float($0)) }
            let rope = RotaryEmbedding(positions: positions, headDim: hd)
            let x = randomFloats(5 * 2 * hd, seed: UInt64(hd))
            var a = x, b = x
            rope.applyVector(&a, rows: 5, ld: 2 * hd, heads: 2, first: 0)
            rope.applyScalar(&b, rows: 5, ld: 2 * hd, heads: 2, first: 0)
            #expect(a == b, "rotary, head size \(hd)")
            for n in [hd, hd + 3] {
                let v = randomFloats(n, seed: UInt64(n) &* 3)
                #expect(Normalization.sumOfSquaresVector(v, n).bitPattern == Normalization.sumOfSquaresScalar(v, n).bitPattern)
            }
        }
    }
}
