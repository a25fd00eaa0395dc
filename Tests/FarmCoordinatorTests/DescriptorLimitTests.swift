import FarmCoordinator
import FarmPosix
import FarmTesting
import Foundation
import Testing

/// A coordinator whose descriptor limit is far below the workers that come: it turns the newcomers away with a log
/// line and keeps serving those it has, `/metrics` answers, and SIGTERM still stops it.
@Suite(.serialized, .timeLimit(.minutes(2)), .ownThreads) struct DescriptorLimitTests {
    @Test func newPeersAreTurnedAwayAndTheConnectedOnesKeepBeingServed() throws {
        let dir = try temporaryDirectory("descriptors")
        let port = UInt16.random(in: 20_000...29_999), metrics = UInt16.random(in: 30_000...39_999)
        let log = dir.appendingPathComponent("coordinator.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        // The soft limit first (the hard one cannot go below it), then the hard one, which the coordinator raises to.
        let errors = try FileHandle(forWritingTo: log)
        let coordinator = try ChildProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", "ulimit -Sn 400 && ulimit -Hn 400 && exec \"$0\" coordinator --data \"$1\" "
                                 + "--bind tcp://127.0.0.1:\(port) --metrics 127.0.0.1:\(metrics)",
                                 reelfarm.path, dir.appendingPathComponent("data").path],
                                           stderr: .descriptor(errors.fileDescriptor))
        try errors.close()
        defer { coordinator.send(SIGKILL) }
        Thread.sleep(forTimeInterval: 1.5)

        // 350 workers: a limit of 400 (256 kept back) holds 144 by the book, and the gate shuts at 272 open.
        let agent = try ProcessRunner.run(reelfarm, ["bench", "swarm-agent", "--endpoint", "tcp://127.0.0.1:\(port)",
                                                     "--prefix", "fd", "--workers", "350", "--seconds", "10", "--ramp", "200"],
                                          timeout: 60)
        let report = try JSONDecoder().decode(SwarmAgent.Report.self, from: Data(agent.stdout.utf8))
        let text = try httpGet(port: metrics, path: "/metrics").body
        let samples = prometheusSamples(text)
        #expect(samples["reelfarm_worker_capacity"] == 144)
        #expect((samples["reelfarm_refused_total{reason=\"handshake-descriptors\"}"] ?? 0) > 0, "\(text)")
        // Those let in were served throughout: welcomed, never refused or forgotten.
        #expect(report.welcomed > 100 && report.welcomed < 350 && report.refusals == 0 && report.rehellos == 0, "\(report)")

        coordinator.send(SIGTERM)
        #expect(coordinator.wait(seconds: 15) != nil, "SIGTERM stops it")
        let lines = try String(contentsOf: log, encoding: .utf8)
        #expect(lines.contains("turning new peers away:") && lines.contains("raise ulimit -n"), "\(lines.suffix(2_000))")
    }
}
