import FarmCoordinator
import Foundation
import Testing
import FarmTesting

/// A coordinator process with hundreds of simulated workers (``SwarmBenchmark``, the code behind `reelfarm bench
/// swarm`): none is declared dead while all beat, each silenced one is, and a 5 s SIGSTOP of the coordinator costs
/// no death and no re-registration. Counts only: the timings are the benchmark's to print.
@Suite(.serialized, .timeLimit(.minutes(4)), .ownThreads) struct SwarmTests {
    @Test func aStalledCoordinatorRecoversWithoutDeathsOrAStorm() throws {
        let bench = SwarmBenchmark(workers: 400, window: 5, kills: 4, stall: 5, executable: reelfarm)
        let r = try bench.run { _ in }
        #expect(r.workers == 400 && r.falseDeaths == 0, "\(r)")
        #expect(r.detection.count == 4, "every silenced worker is declared dead: \(r)")
        #expect(r.stallDeaths == 0 && r.stallRehellos == 0 && r.agentRehellos == 0, "\(r)")
        #expect(r.stallRecovery != nil, "the coordinator answers with every worker after SIGCONT: \(r)")
    }
}
