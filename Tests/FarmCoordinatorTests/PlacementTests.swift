import FarmCoordinator
import Testing

/// The placement rule on hand-made farms: earliest finish, waiting for a faster worker, ties, determinism.
struct PlacementTests {
    /// Speeds by worker index for `Placement.decide`.
    func speeds(_ s: [Double]) -> (Int) -> Double? { { s.indices.contains($0) ? s[$0] : nil } }

    @Test func aTaskWaitsForAFastWorkerThatFinishesItSooner() {
        // The fast worker frees at 1 and finishes at 2; the free slow one would take until 10.
        let workers = [PlacementWorker(id: "fast", freeAt: [1]), PlacementWorker(id: "slow", freeAt: [0])]
        let out = Placement.decide(tasks: [PlacementTask(work: 10, rank: 10)], workers: workers, now: 0,
                                   speed: speeds([10, 1]))
        #expect(out == [.wait(worker: 0, start: 1)])
    }

    @Test func aFreeSlowWorkerTakesATaskThatFinishesSoonerThere() {
        // The fast worker is booked until 100: the slow one finishes at 10.
        let workers = [PlacementWorker(id: "fast", freeAt: [100]), PlacementWorker(id: "slow", freeAt: [0])]
        let out = Placement.decide(tasks: [PlacementTask(work: 10, rank: 10)], workers: workers, now: 0,
                                   speed: speeds([10, 1]))
        #expect(out == [.run(worker: 1)])
    }

    @Test func theCriticalTaskGetsTheFastWorkerAndTheNextOneWaitsForIt() {
        let workers = [PlacementWorker(id: "slow", freeAt: [0]), PlacementWorker(id: "fast", freeAt: [0])]
        let tasks = [PlacementTask(work: 10, rank: 100), PlacementTask(work: 10, rank: 10)]
        let out = Placement.decide(tasks: tasks, workers: workers, now: 0, speed: speeds([1, 10]))
        // The second finishes at 2 after the first on the fast worker, at 10 on the slow one; nothing else is left.
        #expect(out == [.run(worker: 1), .wait(worker: 1, start: 1)])
    }

    @Test func aSlowWorkerTakesWorkTheFastOnesCouldNotReachSooner() {
        // 20 tasks for one fast worker: the eleventh would end at 11 there, at 10 on the slow one.
        let workers = [PlacementWorker(id: "fast", freeAt: [0]), PlacementWorker(id: "slow", freeAt: [0])]
        let tasks = Array(repeating: PlacementTask(work: 10, rank: 10), count: 20)
        let out = Placement.decide(tasks: tasks, workers: workers, now: 0, speed: speeds([10, 1]))
        #expect(out == [.run(worker: 0)] + (1...9).map { .wait(worker: 0, start: Double($0)) } + [.run(worker: 1)])
    }

    @Test func aSlowWorkerTakesTheLeastUrgentWaitingTaskWhenTheFastOneHasMoreThanEnough() {
        // The fast worker has 200 units to do (20 s); the slow one ends the least urgent task at 10.
        let workers = [PlacementWorker(id: "fast", freeAt: [0]), PlacementWorker(id: "slow", freeAt: [0])]
        let tasks = [100.0, 50, 10].map { PlacementTask(work: 10, rank: $0) }
        let out = Placement.decide(tasks: tasks, workers: workers, now: 0, backlog: 200, speed: speeds([10, 1]))
        #expect(out == [.run(worker: 0), .wait(worker: 0, start: 1), .run(worker: 1)])
    }

    @Test func aSlowWorkerDoesNotTakeATaskWhosePathWouldEndLast() {
        let workers = [PlacementWorker(id: "fast", freeAt: [0]), PlacementWorker(id: "slow", freeAt: [0])]
        // On the slow worker the second task ends at 10 and its path at 28; the fast one alone ends all at 20.
        let long = [PlacementTask(work: 10, rank: 10), PlacementTask(work: 10, rank: 190)]
        #expect(Placement.decide(tasks: long, workers: workers, now: 0, backlog: 200, speed: speeds([10, 1]))
                == [.run(worker: 0), .wait(worker: 0, start: 1)])
        // A short path (ends at 11) goes.
        let short = [PlacementTask(work: 10, rank: 10), PlacementTask(work: 10, rank: 20)]
        #expect(Placement.decide(tasks: short, workers: workers, now: 0, backlog: 200, speed: speeds([10, 1]))
                == [.run(worker: 0), .run(worker: 1)])
    }

    @Test func aSlowWorkerDoesNotTakeWorkTheFastOnesWouldNeedMeanwhile() {
        // The fast worker could end everything at 20, but 150 of the 200 units wait behind the slow worker's
        // running task: taking this one too would leave the fast worker idle before the slow one ends it.
        let workers = [PlacementWorker(id: "fast", freeAt: [0]),
                       PlacementWorker(id: "slow", freeAt: [0, 50], downstream: 150)]
        let tasks = [PlacementTask(work: 10, rank: 10), PlacementTask(work: 10, rank: 10)]
        #expect(Placement.decide(tasks: tasks, workers: workers, now: 0, backlog: 200, speed: speeds([10, 1]))
                == [.run(worker: 0), .wait(worker: 0, start: 1)])
        let free = [workers[0], PlacementWorker(id: "slow", freeAt: [0, 50])]
        #expect(Placement.decide(tasks: tasks, workers: free, now: 0, backlog: 200, speed: speeds([10, 1]))
                == [.run(worker: 0), .run(worker: 1)])
    }

    @Test func aLastSegmentWaitsForASlowWorkerWhenTheFastOneWouldIdleNoLonger() {
        // The fast worker would be done at 5, when the slow one's task ends and work behind it arrives; the slow one
        // ends this task at 55, long before the fast one alone could finish the 1000 units left.
        let workers = [PlacementWorker(id: "fast", freeAt: [0]),
                       PlacementWorker(id: "slow", freeAt: [5], downstream: 100)]
        let last = [PlacementTask(work: 50, rank: 50)]
        #expect(Placement.decide(tasks: last, workers: workers, now: 0, backlog: 1_000, speed: speeds([10, 1]))
                == [.wait(worker: 1, start: 5)])
        // New work only at 6: the fast worker takes it rather than idle; and a task with work behind it never waits.
        let later = [workers[0], PlacementWorker(id: "slow", freeAt: [6], downstream: 100)]
        #expect(Placement.decide(tasks: last, workers: later, now: 0, backlog: 1_000, speed: speeds([10, 1]))
                == [.run(worker: 0)])
        #expect(Placement.decide(tasks: [PlacementTask(work: 50, rank: 60)], workers: workers, now: 0, backlog: 1_000,
                                 speed: speeds([10, 1])) == [.run(worker: 0)])
    }

    @Test func aWaitingTaskWhosePathAnIdleSlowWorkerCanEndTakesTheFastWorkerFirst() {
        // The short chain's task runs first on the fast worker (until 2) so the idle slow one ends the 5 units behind
        // it by 7; the long chain's task waits, its path still ending by 12 (the fast worker alone, in the old order,
        // ends everything at 12.5 while the slow one idles).
        let workers = [PlacementWorker(id: "fast", freeAt: [0]), PlacementWorker(id: "slow", freeAt: [0])]
        let tasks = [PlacementTask(work: 10, rank: 100), PlacementTask(work: 20, rank: 25)]
        #expect(Placement.decide(tasks: tasks, workers: workers, now: 0, backlog: 125, speed: speeds([10, 1]))
                == [.wait(worker: 0, start: 1), .run(worker: 0)])
        // 20 units behind it: the slow worker would end them at 22, after the fast one alone ends everything (14).
        let long = [tasks[0], PlacementTask(work: 20, rank: 40)]
        #expect(Placement.decide(tasks: long, workers: workers, now: 0, backlog: 140, speed: speeds([10, 1]))
                == [.run(worker: 0), .wait(worker: 0, start: 1)])
        // No idle slow worker, nothing to feed: the long chain's task takes the only free slot.
        let busy = [workers[0], PlacementWorker(id: "slow", freeAt: [30])]
        #expect(Placement.decide(tasks: tasks, workers: busy, now: 0, backlog: 125, speed: speeds([10, 1]))
                == [.run(worker: 0)])
        // Ten idle slow workers: all the workers together could end everything by 6.25, the long chain's path alone
        // takes 10 on the fast worker, and 11 behind the short chain's task: it keeps the fast worker.
        let many = [workers[0]] + (1...10).map { PlacementWorker(id: "slow\($0)", freeAt: [0]) }
        #expect(Placement.decide(tasks: tasks, workers: many, now: 0, backlog: 125,
                                 speed: speeds([10] + Array(repeating: 1, count: 10)))
                == [.run(worker: 0), .wait(worker: 0, start: 1)])
        // Two fast workers end everything by 9.25, but the long chain's path behind the short one's task would end
        // at 16: it keeps the fast worker.
        let two = [workers[0], PlacementWorker(id: "fast2", freeAt: [1]), PlacementWorker(id: "slow", freeAt: [0])]
        let tight = [PlacementTask(work: 10, rank: 150), tasks[1]]
        #expect(Placement.decide(tasks: tight, workers: two, now: 0, backlog: 175, speed: speeds([10, 10, 1]))
                == [.run(worker: 0), .wait(worker: 0, start: 1)])
    }

    @Test func equalWorkersShareByFreeSlotsThenId() {
        let workers = [PlacementWorker(id: "b", freeAt: [0, 0]), PlacementWorker(id: "a", freeAt: [0, 0]),
                       PlacementWorker(id: "c", freeAt: [0, 5])]
        let out = Placement.decide(tasks: Array(repeating: PlacementTask(work: 1, rank: 1), count: 6), workers: workers,
                                   now: 0, speed: { _ in 1 })
        #expect(out == [.run(worker: 1), .run(worker: 0), .run(worker: 1), .run(worker: 0), .run(worker: 2)])
    }

    @Test func aTaskNoWorkerMayRunIsUnplaced() {
        let out = Placement.decide(tasks: [PlacementTask(work: 1, rank: 1)],
                                   workers: [PlacementWorker(id: "a", freeAt: [0])],
                                   now: 0, speed: { _ in nil })
        #expect(out == [.unplaced])
    }

    /// Random farms: the same input gives the same decisions whatever the workers' order; only free slots run tasks,
    /// never more than there are.
    @Test func decisionsAreDeterministicAndOnlyUseFreeSlots() {
        var rng = SplitMix(seed: 12)
        for _ in 0..<300 {
            let n = Int(rng.next() % 12) + 1
            let workers = (0..<n).map { i in
                PlacementWorker(id: "w\(i)", freeAt: (0..<Int(rng.next() % 3 + 1)).map { _ in Double(rng.next() % 4) })
            }
            let speed = (0..<n).map { _ in [1.0, 1.25, 4, 10][Int(rng.next() % 4)] }
            let tasks = (0..<Int(rng.next() % 20 + 1)).map { _ in
                let w = Double(rng.next() % 50 + 1)
                return PlacementTask(work: w, rank: w + Double(rng.next() % 100))
            }.sorted { $0.rank > $1.rank }
            let now = 1.0
            let out = Placement.decide(tasks: tasks, workers: workers, now: now, speed: { speed[$0] })
            let order = Array((0..<n).reversed())
            let again = Placement.decide(tasks: tasks, workers: order.map { workers[$0] }, now: now,
                                         speed: { speed[order[$0]] })
            func ids(_ o: [PlacementOutcome], _ ws: [PlacementWorker]) -> [String] {
                o.map {
                    switch $0 {
                    case .run(let w): "run \(ws[w].id)"
                    case .wait(let w, let s): "wait \(ws[w].id) \(s)"
                    case .unplaced: "unplaced"
                    }
                }
            }
            #expect(ids(out, workers) == ids(again, order.map { workers[$0] }))
            var free = workers.map { $0.freeAt.filter { $0 <= now }.count }
            for case .run(let w) in out {
                free[w] -= 1
                #expect(free[w] >= 0)
            }
        }
    }
}

/// A small deterministic generator for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
