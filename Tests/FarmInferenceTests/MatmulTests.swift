import FarmInference
import Testing

@Suite struct MatmulTests {
    @Test(arguments: [(1, 1, 1), (3, 5, 7), (64, 33, 17), (128, 256, 96)])
    func sgemmMatchesTheNaiveProduct(m: Int, k: Int, n: Int) throws {
        var seed: UInt32 = 12345
        func next() -> Float {
            seed = seed &* 1_664_525 &+ 1_013_904_223
            return Float(seed >> 8) / Float(1 << 24) - 0.5
        }
        let a = Tensor(shape: [m, k], values: (0..<(m * k)).map { _ in next() })
        let b = Tensor(shape: [k, n], values: (0..<(k * n)).map { _ in next() })
        let c = try a.matmul(b)
        #expect(c.shape == [m, n])
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k { s += Double(a.values[i * k + p]) * Double(b.values[p * n + j]) }
                #expect(abs(Double(c.values[i * n + j]) - s) <= 1e-4 * max(1, abs(s)))
            }
        }
    }

    @Test func refusesShapesThatDoNotChain() {
        #expect(throws: ShapeError.self) { try Tensor(shape: [2, 3]).matmul(Tensor(shape: [4, 2])) }
    }
}
