import Foundation
import Testing

/// A trait for suites whose tests block for seconds or minutes (they start farms and wait on processes and sockets):
/// each of their test cases runs on threads of its own instead of Swift's cooperative pool, and at most
/// ``OwnThreadsTrait/suitesAtOnce`` such suites run at a time.
///
/// Swift Testing runs test bodies on the cooperative pool, which has one thread per core: two cores here. A
/// synchronous test that waits on a farm for minutes holds one of them all that time; with two such tests running,
/// every other test in the process waits for a thread while its time limit runs (tests of a few milliseconds were
/// seen to fail their one-minute limit after 158 s). With this trait the pool stays free for the quick tests.
///
/// The suites take their turn before any of their tests starts, so the wait never counts against a test's time
/// limit; and they keep the concurrency such tests had on the pool (two at a time), so farms do not pile up on
/// two cores.
public struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    /// How many suites with this trait run at once.
    public static let suitesAtOnce = 2
    /// Threads each test case gets (more than one: a test may block in one task while another does the work).
    public static let threadsPerTest = 2

    public var isRecursive: Bool { true }

    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        testCase != nil || test.isSuite ? self : nil
    }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else {
            await Self.turns.enter()
            do { try await function() } catch {
                await Self.turns.leave()
                throw error
            }
            await Self.turns.leave()
            return
        }
        let executor = ThreadsExecutor(name: String(test.name.prefix(40)), threads: Self.threadsPerTest)
        defer { executor.stop() }
        try await withTaskExecutorPreference(executor) { try await function() }
    }

    static let turns = Turns(Self.suitesAtOnce)
}

extension Trait where Self == OwnThreadsTrait {
    /// Each test case on threads of its own, and at most two such suites at a time (``OwnThreadsTrait``).
    public static var ownThreads: Self { OwnThreadsTrait() }
}

/// Turns at something only `width` may do at once; waiting suspends the task, it holds no thread.
actor Turns {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ width: Int) { free = width }

    func enter() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

/// A task executor of a few plain threads, started for one test case and stopped after it.
final class ThreadsExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    /// Threads running now; one is started again when a job comes after they stopped (a task the test left behind).
    private var running = 0
    private let name: String
    private let threads: Int

    init(name: String, threads: Int) {
        self.name = name
        self.threads = threads
        condition.lock()
        for _ in 0 ..< threads { startThread() }
        condition.unlock()
    }

    /// With `condition` held.
    private func startThread() {
        running += 1
        let thread = Thread { [self] in work() }
        thread.name = "test \(name)"
        thread.stackSize = 16 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        if running == 0 { startThread() }
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty, !stopping { condition.wait() }
            if jobs.isEmpty {
                running -= 1
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// Lets the threads end once nothing is left to run.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}
