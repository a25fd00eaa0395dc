/// A shape mismatch in a tensor operation.
public struct ShapeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

extension Tensor {
    /// `self · other` for 2-D tensors `[m, k] · [k, n] → [m, n]`, through OpenBLAS's `cblas_sgemm`.
    /// - Throws: ``ShapeError`` when the shapes do not chain.
    public func matmul(_ other: Tensor) throws(ShapeError) -> Tensor {
        guard shape.count == 2, other.shape.count == 2, shape[1] == other.shape[0] else {
            throw ShapeError(description: "matmul: \(shape) · \(other.shape) do not chain")
        }
        let (m, k, n) = (shape[0], shape[1], other.shape[1])
        var out = Tensor(shape: [m, n])
        Self.sgemm(m: m, n: n, k: k, a: values, b: other.values, c: &out.values)
        return out
    }

    /// `c = a · b`, row-major, no transposes.
    static func sgemm(m: Int, n: Int, k: Int, a: [Float], b: [Float], c: inout [Float]) {
        guard m > 0, n > 0, k > 0 else { return }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.gemm(
                        .none, .none, m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                        c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// Threads OpenBLAS uses for a product.
    public static var blasThreads: Int { BLAS.threads }
}
