import Foundation

/// Requests from other threads (the HTTP server) for the coordinator loop. The loop drains the inbox once an
/// iteration and runs each request on its own thread inside the iteration's transaction (the same functions the
/// ZeroMQ handlers call); the answer is handed back only once that transaction has committed, so whatever an HTTP
/// client is told is durable. The asker never touches the loop's state or lock, and never waits past its deadline.
public final class CommandInbox: @unchecked Sendable {
    /// A request as the loop sees it: what to run and when its asker stops waiting.
    struct Entry {
        /// Monotonic seconds (``Coordinator/clock``).
        let deadline: Double
        /// Runs the request; returns what hands its answer back (called after the commit).
        let run: (Coordinator) throws -> () -> Void
        /// Tells the asker the loop is gone.
        let abandon: () -> Void
        /// Whether it may change the farm (the loop then publishes a snapshot before answering).
        let changes: Bool
    }

    private let lock = NSLock()
    private var entries: [Entry] = []
    private var closed = false

    /// The most requests waiting at once; more are refused at once (the loop is behind).
    static let capacity = 1_024

    /// Why a request got no answer.
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case timedOut(seconds: Double)
        case stopped
        case full

        public var description: String {
            switch self {
            case let .timedOut(seconds):
                "the coordinator did not answer within \(seconds) s (an action may still take effect)"
            case .stopped: "the coordinator is stopping"
            case .full: "the coordinator has too many requests waiting; try again"
            }
        }
    }

    /// Runs `body` on the loop's thread in the next iteration and returns its value once the iteration committed.
    /// - Parameters:
    ///   - changes: whether `body` may change the farm: the next snapshot then shows what it did.
    ///   - timeout: seconds to wait for the answer.
    /// - Throws: what `body` threw (its changes are rolled back), or ``Failure``.
    public func ask<T: Sendable>(changes: Bool = false, timeout: Double = 10,
                                 _ body: @escaping @Sendable (Coordinator) throws -> T)
        async throws -> T {
        let reply = Reply<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                reply.attach(continuation)
                let entry = Entry(
                    deadline: Coordinator.clock + timeout,
                    run: { coordinator in
                        let result = try Self.run(body, on: coordinator)
                        return { reply.resume(result) }
                    },
                    abandon: { reply.resume(.failure(Failure.stopped)) }, changes: changes)
                let refusal: Failure? = lock.withLock {
                    if closed { return .stopped }
                    if entries.count >= Self.capacity { return .full }
                    entries.append(entry)
                    return nil
                }
                if let refusal {
                    reply.resume(.failure(refusal))
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    reply.resume(.failure(Failure.timedOut(seconds: timeout)))
                }
            }
        } onCancel: {
            reply.resume(.failure(CancellationError()))
        }
    }

    /// Runs `body` in a savepoint: a request changes the store all or nothing. Only the store failing under the
    /// loop (``CoordinatorFailure``) escapes; every other error is the request's answer.
    private static func run<T>(_ body: (Coordinator) throws -> T, on coordinator: Coordinator) throws
        -> Result<T, any Error> {
        do {
            return .success(try coordinator.store.atomically { try body(coordinator) })
        } catch let failure as CoordinatorFailure {
            throw failure
        } catch {
            return .failure(error)
        }
    }

    /// Whether a request waits (the loop then keeps its iteration short, so that the request is answered soon).
    var hasWaiting: Bool { lock.withLock { !entries.isEmpty } }

    /// The requests waiting, oldest first (the loop's side).
    func take() -> [Entry] {
        lock.withLock {
            let out = entries
            entries.removeAll()
            return out
        }
    }

    /// Refuses every waiting and later request: the loop has exited.
    func close() {
        let left: [Entry] = lock.withLock {
            closed = true
            let out = entries
            entries.removeAll()
            return out
        }
        for e in left { e.abandon() }
    }
}

/// One answer, delivered once: by the loop, the deadline or cancellation, whichever comes first.
private final class Reply<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var early: Result<T, any Error>?
    private var done = false

    func attach(_ c: CheckedContinuation<T, any Error>) {
        let now: Result<T, any Error>? = lock.withLock {
            if let early {
                self.early = nil
                return early
            }
            continuation = c
            return nil
        }
        if let now { c.resume(with: now) }
    }

    func resume(_ result: Result<T, any Error>) {
        let c: CheckedContinuation<T, any Error>? = lock.withLock {
            guard !done else { return nil }
            done = true
            guard let c = continuation else {
                early = result  // cancelled before the continuation existed
                return nil
            }
            continuation = nil
            return c
        }
        c?.resume(with: result)
    }
}
