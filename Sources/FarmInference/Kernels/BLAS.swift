import COpenBLAS
import Foundation

/// The one door to OpenBLAS: every matrix product in FarmInference goes through ``gemm``.
///
/// OpenBLAS's pthread build parallelises each product over its own threads, and concurrent calls from several
/// application threads are not documented as safe, so calls are serialised by one process-wide lock. A forward
/// pass already keeps every core busy inside each product; two segments generated at once gain nothing from
/// overlapping their products and lose nothing from taking turns.
public enum BLAS {
    /// Whether an operand is read as stored or transposed.
    public enum Transpose: Sendable { case none, transposed }

    private static let lock = NSLock()

    /// `C = alpha · op(A) · op(B) + beta · C`, row-major; `op(A)` is `m×k`, `op(B)` is `k×n`, `C` is `m×n`.
    /// - Parameters:
    ///   - lda, ldb, ldc: row strides (in floats) of the stored matrices.
    @inline(__always)
    public static func gemm(
        _ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // An empty inner dimension still scales C, as BLAS defines it.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        lock.lock()
        cblas_sgemm(
            CblasRowMajor, ta == .none ? CblasNoTrans : CblasTrans, tb == .none ? CblasNoTrans : CblasTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        lock.unlock()
    }

    /// Threads OpenBLAS uses for one product.
    public static var threads: Int { Int(COpenBLAS_threads()) }

    /// The OpenBLAS kernel family chosen for this CPU (e.g. `Haswell`, `SkylakeX`).
    public static var coreName: String { String(cString: COpenBLAS_coreName()) }
}
