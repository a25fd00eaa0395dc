@testable import FarmCoordinator
import Testing

@Suite struct MinHeapTests {
    /// Whatever is pushed and removed, pops come out in order and exactly the kept elements come out.
    @Test func popsInOrderAfterRemovals() {
        var rng = SystemRandomNumberGenerator()
        for round in 0 ..< 200 {
            var heap = MinHeap<Int>()
            var kept: [Int] = []
            for _ in 0 ..< Int.random(in: 0 ... 300, using: &rng) {
                let v = Int.random(in: -50 ... 50, using: &rng)
                heap.push(v)
                kept.append(v)
            }
            let modulus = round % 7 + 1
            heap.removeAll { $0 % modulus == 0 }
            kept.removeAll { $0 % modulus == 0 }
            heap.push(1_000)  // still a heap after the removal: pushes and pops keep working
            kept.append(1_000)
            var out: [Int] = []
            while let v = heap.pop() { out.append(v) }
            #expect(out == kept.sorted(), "round \(round)")
        }
    }

    /// The verifier above fails on a heap whose order was broken: a removal that kept elements in array order
    /// without restoring the heap pops them out of order.
    @Test func aBrokenOrderIsCaught() {
        var heap = MinHeap<Int>()
        for v in [1, 5, 2, 6, 7, 3, 4] { heap.push(v) }
        heap.removeAll { $0 == 1 }  // the root goes: the rest must be re-ordered, not just shifted
        var out: [Int] = []
        while let v = heap.pop() { out.append(v) }
        #expect(out == [2, 3, 4, 5, 6, 7])
    }
}
