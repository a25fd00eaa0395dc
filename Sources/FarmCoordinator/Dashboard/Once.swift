import Foundation

/// A continuation resumed once, by whichever comes first (the work, its deadline).
final class Once<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    init(_ c: CheckedContinuation<T, any Error>) { continuation = c }
    func resume(_ result: Result<T, any Error>) {
        let c: CheckedContinuation<T, any Error>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        c?.resume(with: result)
    }
}

/// Blocking work (store reads) for the HTTP side, off Swift's cooperative pool: at most four at once, each awaited
/// until its deadline.
enum Blocking {
    private static let queue = DispatchQueue(label: "reelfarm-dashboard-reads", attributes: .concurrent)
    private static let slots = DispatchSemaphore(value: 4)

    static func run<T: Sendable>(timeout: Double, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            queue.async {
                slots.wait()
                defer { slots.signal() }
                once.resume(Result { try body() })
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                once.resume(.failure(CommandInbox.Failure.timedOut(seconds: timeout)))
            }
        }
    }
}
