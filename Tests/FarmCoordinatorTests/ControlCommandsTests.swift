import FarmCoordinator
import FarmTesting
import FarmWire
import Foundation
import Testing

/// `reelfarm priority`, `drain`, `disable` and `enable`: the dashboard's job and worker actions from the CLI, through
/// real processes on 127.0.0.1, with their refusals.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct ControlCommandsTests {
    @Test func theCLIChangesPrioritiesAndDrainsDisablesAndEnablesWorkers() throws {
        let dir = try temporaryDirectory()
        let farm = try LocalFarm(executable: reelfarm, dataDirectory: dir)
        defer { farm.shutdown() }
        try farm.startCoordinator()
        let leaver = try farm.startWorker(name: "leaver", extra: ["--step-delay-ms", "200"])
        _ = try farm.startWorker(name: "stayer", extra: ["--step-delay-ms", "50"])
        let client = try FarmClient(endpoint: farm.endpoint)
        let job = try client.submit(storyboard: farmStoryboard, source: "three.yaml", priority: 0).job
        let cli = ["--coordinator", farm.endpoint]

        // Priority, by a prefix of the id.
        let raised = try ProcessRunner.run(reelfarm, ["priority", String(job.prefix(6)), "7"] + cli, timeout: 60)
        #expect(raised.status == 0 && raised.stdout.contains("\(job): priority 7"), "\(raised.stdout)\(raised.stderr)")
        #expect(try client.status(job: nil).jobs.first { $0.id == job }?.priority == 7)
        // A negative priority comes after `--`, as any argument that starts with a dash.
        let json = try ProcessRunner.run(reelfarm, ["priority", job, "--json"] + cli + ["--", "-3"], timeout: 60)
        #expect(json.status == 0 && json.stdout.replacingOccurrences(of: " ", with: "").contains("\"priority\":-3"),
                "\(json.stdout)")
        let outside = try ProcessRunner.run(reelfarm, ["priority", job, "1000001"] + cli, timeout: 60)
        #expect(outside.status != 0 && outside.stderr.contains("-1000000...1000000"), "\(outside.stderr)")
        let nobody = try ProcessRunner.run(reelfarm, ["priority", "zz-no-such-job", "1"] + cli, timeout: 60)
        #expect(nobody.status == 1 && nobody.stderr.contains("no job zz-no-such-job"), "\(nobody.stderr)")
        // Straight on the wire, a priority out of range is refused by the coordinator itself.
        #expect(throws: FarmClient.ClientError.self) { try client.setPriority(job: job, priority: Int.max) }

        // Workers by id.
        func id(_ name: String) throws -> String {
            try #require(try client.workers().workers.first { $0.name == name }?.id, "\(name) is not listed")
        }
        func state(_ name: String) throws -> String? { try client.workers().workers.first { $0.name == name }?.state }
        #expect(eventually(seconds: 30) { (try? id("leaver")) != nil && (try? id("stayer")) != nil })
        let stayer = try id("stayer"), leaverID = try id("leaver")
        let disabled = try ProcessRunner.run(reelfarm, ["disable", stayer] + cli, timeout: 60)
        #expect(disabled.status == 0 && disabled.stdout.contains("\(stayer): disabled"), "\(disabled.stdout)\(disabled.stderr)")
        #expect(try state("stayer") == "disabled")
        let enabled = try ProcessRunner.run(reelfarm, ["enable", stayer, "--json"] + cli, timeout: 60)
        #expect(enabled.status == 0 && enabled.stdout.contains("alive"), "\(enabled.stdout)\(enabled.stderr)")
        #expect(try state("stayer") == "alive")
        let unknown = try ProcessRunner.run(reelfarm, ["disable", "no-such-worker"] + cli, timeout: 60)
        #expect(unknown.status == 1 && unknown.stderr.contains("no worker no-such-worker"), "\(unknown.stderr)")

        // Drained: it leaves after what it runs, and the job finishes on the other worker.
        let drained = try ProcessRunner.run(reelfarm, ["drain", leaverID] + cli, timeout: 60)
        #expect(drained.status == 0 && drained.stdout.contains("\(leaverID): leaving"), "\(drained.stdout)\(drained.stderr)")
        #expect(eventually(seconds: 60) { !leaver.isRunning }, "the drained worker did not exit")
        #expect(leaver.terminationStatus == 0, "\(farm.log("leaver"))")
        let done = try waitFor(client, job: job)
        #expect(done.jobs.first?.state == "done", "\(farm.log("coordinator"))")
        #expect(farm.log("coordinator").contains("asked to leave by a client"))
    }
}
