/// A contiguous, row-major Float32 tensor.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]? = nil) {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.values = values ?? [Float](repeating: 0, count: n)
        precondition(self.values.count == n, "Tensor: \(self.values.count) values for shape \(shape)")
    }

    public var count: Int { values.count }
}
