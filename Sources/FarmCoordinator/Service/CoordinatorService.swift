import Foundation
import ServiceLifecycle

/// The coordinator as a `Service`: runs its loop thread until graceful shutdown (SIGTERM/SIGINT in a
/// `ServiceGroup`), then stops it after the current iteration and waits for it to exit.
public struct CoordinatorService: Service {
    public let coordinator: Coordinator
    /// Called once the socket listens, with the bound endpoint.
    public let onListening: @Sendable (String) -> Void

    public init(coordinator: Coordinator, onListening: @escaping @Sendable (String) -> Void = { _ in }) {
        self.coordinator = coordinator
        self.onListening = onListening
    }

    public func run() async throws {
        let coordinator = self.coordinator
        onListening(try coordinator.start())
        try await withGracefulShutdownHandler {
            // The loop runs on its own thread; wait for it off the cooperative pool. Cancellation (another service
            // of the group failed) stops it too, so the process never outlives its group.
            await withTaskCancellationHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().async {
                        coordinator.wait()
                        done.resume()
                    }
                }
            } onCancel: {
                coordinator.stop()
            }
            if !coordinator.isStopping { throw CoordinatorStopped() }
        } onGracefulShutdown: {
            coordinator.stop()
        }
    }

    /// The loop ended without being asked to (its store failed); the log line before says why.
    public struct CoordinatorStopped: Error, CustomStringConvertible {
        public var description: String { "the coordinator loop stopped unexpectedly" }
    }
}
