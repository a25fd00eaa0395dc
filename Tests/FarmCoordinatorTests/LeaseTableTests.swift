@testable import FarmCoordinator
import FarmStore
import FarmWire
import Foundation
import Testing

/// The lease table: a lease's pieces and holder go together, progress is handed over once.
@Suite struct LeaseTableTests {
    @Test func endingALeaseForgetsItsHolderAndItsPieces() {
        var t = LeaseTable()
        let a = TaskKey(job: "j", key: "s/0"), b = TaskKey(job: "j", key: "s/1")
        t.grant(a, attempt: 2, to: Data([1]))
        t.grant(b, attempt: 1, to: Data([2]))
        let lease = Lease(task: a.id, attempt: 2)
        t.append(Data([0, 1, 2]), to: "chunk", of: lease)
        t.append(Data([3]), to: "chunk", of: lease)
        #expect(t.count == 2 && t[a]?.attempt == 2 && t[a]?.identity == Data([1]))
        #expect(t.received(lease, "chunk") == 4 && t.received(lease, "audio") == 0)
        #expect(t.end(a)?.attempt == 2)
        #expect(t.count == 1 && t[a] == nil && t.received(lease, "chunk") == 0)
        #expect(t.end(a) == nil)
        let other = Lease(task: b.id, attempt: 1)
        t.append(Data([9]), to: "audio", of: other)
        #expect(t.takePieces(of: other) == ["audio": Data([9])])
        #expect(t.takePieces(of: other).isEmpty)
        t.noteProgress(b, attempt: 1, step: 1, steps: 4)
        t.noteProgress(b, attempt: 1, step: 2, steps: 4)
        let progress = t.takeProgress()
        #expect(progress.count == 1 && progress.first?.2 == 2)
        #expect(t.takeProgress().isEmpty)
    }
}
