import COpenBLAS

/// A shape mismatch in a tensor operation.
public struct ShapeError: Error, CustomStringConvertible, Sendable {
    public var description: String
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
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
    }

    /// Threads OpenBLAS uses for a product.
    public static var blasThreads: Int { Int(COpenBLAS_threads()) }
}
