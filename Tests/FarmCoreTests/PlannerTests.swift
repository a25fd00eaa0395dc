import FarmCore
import Testing

@Suite struct PlannerTests {
    func spec(frames: [Int], window: Int = 97, overlap: Int = 17, schedule: Schedule = .chain,
              transitions: [Transition]? = nil) -> JobSpec {
        JobSpec(title: "t", output: OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48000, channels: 2),
                model: ModelSpec(engine: "testcard", window: window, overlap: overlap, steps: 1, seed: 7, schedule: schedule),
                shots: frames.enumerated().map { i, n in
                    ShotSpec(id: "s\(i)", length: .frames(n), prompt: "", transition: transitions?[i] ?? .cut)
                })
    }

    @Test func skyReelsV2Example() throws {
        let plan = try Planner.plan(spec(frames: [257]), geometry: stride4)
        #expect(plan.segments.map(\.own.count) == [97, 80, 80])
        #expect(plan.segments.map(\.generate) == [TimeRange(0, 97), TimeRange(80, 177), TimeRange(160, 257)])
        #expect(plan.segments[1].context == ContextLink(source: "s0/0", frames: TimeRange(80, 97), latents: 5))
        #expect(plan.segments[2].dependsOn == ["s0/1"])
        #expect(plan.criticalPath == 97 * 3)
    }

    @Test func lastSegmentGeneratesPastTheShotToStayAligned() throws {
        let plan = try Planner.plan(spec(frames: [100]), geometry: stride4)
        #expect(plan.segments.map(\.own) == [TimeRange(0, 97), TimeRange(97, 100)])
        // 17 frames of context + 3 new ones = 20 → aligned up to 21.
        #expect(plan.segments[1].generate == TimeRange(80, 101))
    }

    @Test func continueTakesContextFromThePreviousShot() throws {
        let plan = try Planner.plan(spec(frames: [10, 50], transitions: [.cut, .continue]), geometry: stride4)
        // Shot 0 generates 13 frames (aligned) and owns 10; shot 1 continues from its last 13 generated frames.
        #expect(plan.segments[0].generate == TimeRange(0, 13))
        #expect(plan.segments[1].context?.source == "s0/0")
        #expect(plan.segments[1].context?.frames == TimeRange(0, 13))
        #expect(plan.segments[1].own == TimeRange(10, 60))
        #expect(plan.segments[1].dependsOn == ["s0/0"])
    }

    @Test func anchoredSegmentsRunInParallelAfterTheAnchorPass() throws {
        let plan = try Planner.plan(spec(frames: [257], schedule: .anchored), geometry: stride4)
        #expect(plan.anchors.count == 1)
        #expect(plan.segments.map(\.own) == [TimeRange(0, 96), TimeRange(96, 192), TimeRange(192, 257)])
        #expect(plan.segments.allSatisfy { $0.dependsOn == ["s0/anchors"] })
        #expect(plan.criticalPath < plan.totalWork)
        let frames = plan.anchors[0].frames
        for s in plan.segments {
            #expect(frames[s.anchors!.start] == s.generate.lower)
            #expect(frames[s.anchors!.end] == s.generate.upper - 1)
        }
    }

    @Test func modelSettingsMustFitTheEngineGrid() {
        #expect(throws: SpecError.self) { try Planner.plan(spec(frames: [10], window: 96), geometry: stride4) }
        #expect(throws: SpecError.self) { try Planner.plan(spec(frames: [10], overlap: 16), geometry: stride4) }
        #expect(throws: SpecError.self) { try Planner.plan(spec(frames: [10], overlap: 1), geometry: stride4) }
        let small = EngineGeometry(latentChannels: 8, maxWindow: 33)
        do {
            _ = try Planner.plan(spec(frames: [10]), geometry: small)
            Issue.record("window past the engine's maximum was accepted")
        } catch {
            #expect(error.issues.contains { $0.field == "model.window" })
        }
    }

    /// Owned frames tile the film and samples tile the track, for many random storyboards.
    @Test func ownedRangesTileFilmAndTrack() throws {
        var rng = TestRNG(2026)
        for round in 0..<400 {
            let spec = randomSpec(&rng)
            let plan = try Planner.plan(spec, geometry: stride4)
            let clock = spec.output.clock
            let ordered = plan.segments.sorted { $0.own.lower < $1.own.lower }
            var frame = 0, sample = 0
            for s in ordered {
                let where_ = "round \(round) \(s.id) fps \(spec.output.fps) rate \(spec.output.sampleRate)"
                #expect(s.own.lower == frame, "\(where_): gap or overlap in frames")
                #expect(s.samples.lower == sample, "\(where_): gap or overlap in samples")
                #expect(s.samples == clock.samples(forFrames: s.own), "\(where_)")
                #expect(!s.own.isEmpty && s.generate.lower <= s.own.lower && s.own.upper <= s.generate.upper, "\(where_)")
                #expect(stride4.isAligned(s.generate.count) && s.generate.count <= spec.model.window, "\(where_)")
                if let c = s.context {
                    #expect(c.frames.upper - c.frames.lower <= spec.model.overlap, "\(where_)")
                    #expect(c.frames.lower == s.generate.lower, "\(where_): context must start the window")
                    #expect(s.own.lower - s.generate.lower <= c.frames.count, "\(where_): owns frames before its context ends")
                }
                frame = s.own.upper
                sample = s.samples.upper
            }
            #expect(frame == plan.totalFrames && sample == plan.totalSamples, "round \(round)")
            #expect(plan.totalSamples == clock.sample(atFrame: plan.totalFrames))
            #expect(plan.criticalPath <= plan.totalWork)
            // Dependencies come first in task order (the plan is a DAG).
            var seen = Set<String>()
            for t in plan.tasks {
                #expect(t.dependsOn.allSatisfy(seen.contains), "round \(round): \(t.id) before its dependencies")
                seen.insert(t.id)
            }
        }
    }

    @Test func seedsDependOnJobShotAndIndexOnly() throws {
        let a = try Planner.plan(spec(frames: [300, 40]), geometry: stride4)
        let b = try Planner.plan(spec(frames: [300, 90]), geometry: stride4)
        #expect(a.segments[0].seed == b.segments[0].seed)
        #expect(Set(a.segments.map(\.seed)).count == a.segments.count)
        #expect(SeedDerivation.seed(job: 7, shotID: "s0", index: 0) == a.segments[0].seed)
    }
}
