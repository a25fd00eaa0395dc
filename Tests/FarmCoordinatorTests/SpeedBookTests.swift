@testable import FarmCoordinator
import Testing

/// Speeds learned from finished attempts, and the guesses for workers not measured yet.
struct SpeedBookTests {
    @Test func anUnmeasuredFarmRunsEveryWorkerAtOne() {
        var book = SpeedBook()
        #expect(book.speed(worker: "a", device: "gpu", engine: "testcard") == 1)
    }

    @Test func aWorkerCountsOnceSettledAndOthersOfItsDeviceTakeTheMedian() {
        var book = SpeedBook()
        for _ in 1..<SpeedBook.settled { book.record(worker: "g1", device: "gpu", engine: "e", work: 100, seconds: 1) }
        #expect(book.measured(worker: "g1", engine: "e") == nil)
        #expect(book.speed(worker: "g1", device: "gpu", engine: "e") == 1)
        book.record(worker: "g1", device: "gpu", engine: "e", work: 100, seconds: 1)
        #expect(book.measured(worker: "g1", engine: "e") == 100)
        for _ in 0..<SpeedBook.settled { book.record(worker: "c1", device: "cpu", engine: "e", work: 10, seconds: 1) }
        #expect(book.speed(worker: "g2", device: "gpu", engine: "e") == 100)
        #expect(book.speed(worker: "c2", device: "cpu", engine: "e") == 10)
        // A device class nobody measured: the median of everyone measured on the engine.
        #expect(book.speed(worker: "t1", device: "tpu", engine: "e") == 100)
        // Another engine is measured apart.
        #expect(book.speed(worker: "g1", device: "gpu", engine: "other") == 1)
    }

    @Test func theAverageMovesTowardsNewMeasurementsAndIgnoresNonsense() {
        var book = SpeedBook()
        for _ in 0..<SpeedBook.settled { book.record(worker: "w", device: "cpu", engine: "e", work: 10, seconds: 1) }
        book.record(worker: "w", device: "cpu", engine: "e", work: 20, seconds: 1)
        let s = book.measured(worker: "w", engine: "e") ?? 0
        #expect(s > 10 && s < 20)
        book.record(worker: "w", device: "cpu", engine: "e", work: 20, seconds: 0)
        book.record(worker: "w", device: "cpu", engine: "e", work: .nan, seconds: 1)
        #expect(book.measured(worker: "w", engine: "e") == s)
    }
}
