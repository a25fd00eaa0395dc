import FarmCore
import Foundation

/// The engine processes of one engine name on a worker: one per slot, started on first use (slot 0 at start-up),
/// kept warm across tasks, replaced when one dies or breaks the contract.
public final class EngineProcessPool: @unchecked Sendable {
    public let command: EngineCommand
    public let settings: EngineHostSettings
    private let lock = NSLock()
    private var processes: [EngineProcess]
    private var busy: Set<Int> = []

    public init(command: EngineCommand, slots: Int, settings: EngineHostSettings) {
        self.command = command
        self.settings = settings
        processes = (0..<max(slots, 1)).map { EngineProcess(command: command, slot: $0, settings: settings) }
    }

    public var name: String { command.name }

    /// Each slot's process id while it runs.
    public var pids: [Int32?] { lock.withLock { processes.map(\.pid) } }

    /// Starts slot 0's process and returns its handshake and the geometry it declares.
    /// - Throws: ``EngineProcessError`` when it does not get ready.
    public func warmUp() throws -> (EngineReady, EngineGeometry) {
        let p = try borrow()
        defer { giveBack(p) }
        let ready = try p.start()
        return (ready, try ready.validated(as: command.name))
    }

    /// Runs `body` with a process of its own (a free slot; the worker never runs more tasks than slots).
    public func withProcess<T>(_ body: (EngineProcess) throws -> T) throws -> T {
        let p = try borrow()
        defer { giveBack(p) }
        return try body(p)
    }

    private func borrow() throws -> EngineProcess {
        try lock.withLock {
            // A warm process first, then any free slot.
            let free = processes.indices.filter { !busy.contains($0) }
            guard let i = free.first(where: { processes[$0].isRunning }) ?? free.first else {
                throw EngineProcessError("engine \(command.name): all \(processes.count) processes are busy")
            }
            busy.insert(i)
            return processes[i]
        }
    }

    private func giveBack(_ p: EngineProcess) {
        _ = lock.withLock { busy.remove(p.slot) }
    }

    /// Stops every process (shutdown, then SIGKILL after the grace time).
    public func stop() {
        let all = lock.withLock { processes }
        for p in all { p.stop() }
    }
}
