import FarmWire
import Testing

/// The terminal tables people read while a film renders.
@Suite struct StatusFormatterTests {
    func job(state: String, running: Double?, eta: Double?) -> JobSummary {
        JobSummary(id: "j1", title: "Lobsters", state: state, priority: 0, tasksDone: 3, tasksTotal: 9, framesDone: 100,
                   framesTotal: 300, error: nil, filmBytes: nil, runningSeconds: running, etaSeconds: eta)
    }

    @Test func timesReadAsSpans() {
        let table = StatusFormatter.jobs(StatusReport(jobs: [
            job(state: "running", running: 185, eta: 70), job(state: "running", running: 3725, eta: nil),
            job(state: "queued", running: nil, eta: nil), job(state: "running", running: 41.6, eta: 0.2),
        ]))
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[1].contains("3m05s, ~1m10s left"))
        #expect(lines[2].contains("1h02m ") && !lines[2].contains("left"))
        #expect(lines[3].contains(" - "))
        #expect(lines[4].contains("42s, ~0s left"))
        #expect(StatusFormatter.job(StatusReport(jobs: [job(state: "running", running: 185, eta: 70)]))
            .hasPrefix("j1  running  Lobsters  3/9 tasks  100/300 frames  3m05s, ~1m10s left"))
    }

    @Test func theEstimateScalesTheTimeSpentByTheFramesLeft() {
        #expect(JobSummary.eta(runningSeconds: 60, framesDone: 100, framesTotal: 300) == 120)
        #expect(JobSummary.eta(runningSeconds: 60, framesDone: 0, framesTotal: 300) == nil)
        #expect(JobSummary.eta(runningSeconds: 60, framesDone: 300, framesTotal: 300) == nil)
    }
}
