import Foundation
import ServiceLifecycle

/// A worker as a `Service`: runs until graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`), which drains it —
/// running tasks finish and are reported, new ones are handed back — before it says bye and returns.
public struct WorkerService: Service {
    public let worker: Worker

    public init(worker: Worker) { self.worker = worker }

    public func run() async throws {
        let worker = self.worker
        try await withGracefulShutdownHandler {
            // `run` blocks: give it a thread of its own, never the cooperative pool. Cancellation stops it at once.
            try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                let thread = Thread {
                    do {
                        try worker.run()
                        done.resume()
                    } catch {
                        done.resume(throwing: error)
                    }
                }
                thread.name = "reelfarm-worker"
                thread.start()
            }
            } onCancel: {
                worker.stop()
            }
        } onGracefulShutdown: {
            worker.drain()
        }
    }
}
