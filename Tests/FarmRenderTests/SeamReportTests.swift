import FarmCore
import FarmRender
import FarmTestCard
import FarmTesting
import Foundation
import Testing

/// `reelfarm inspect`: a correct film passes, a film with a join broken on purpose (`--inject-fault break-join`)
/// fails, and a film that is not the storyboard's is refused.
@Suite(.serialized, .timeLimit(.minutes(5)), .ownThreads) struct SeamReportTests {
    static func layout(_ text: String) throws -> (JobSpec, FilmLayout) {
        let spec = try JobSpec.parse(text, source: "t")
        return (spec, try FilmDelivery.layout(spec: spec, geometry: TestCardEngine().geometry, source: "t"))
    }

    /// A film where test-card flashes (one frame a second) stay under 1% of frame pairs, so the inside p99 of the
    /// picture measures is the ball's motion and the frame-number band, not the flashes.
    static let fast = """
        title: fast
        output: {width: 192, height: 64, fps: "240", sample_rate: 48000, channels: 1}
        model: {engine: testcard, window: 97, overlap: 17, steps: 1, seed: 3, schedule: chain}
        shots:
          - {id: long, frames: 400, prompt: "one long shot"}
          - {id: next, frames: 50, prompt: "a cut", transition: cut}
        """

    @Test(arguments: [Schedule.chain, .anchored])
    func passesACorrectTestCardFilm(schedule: Schedule) throws {
        let film = try temporaryDirectory().appendingPathComponent("ok.mp4")
        let text = Storyboards.threeShots(schedule: schedule)
        _ = try renderInProcess(text, to: film)
        let (spec, layout) = try Self.layout(text)
        let report = try SeamInspector.inspect(film: film, layout: layout, format: spec.output)
        #expect(report.passed, "\(report.table)")
        #expect(report.joins.filter(\.judged).count >= 3, "the storyboard should have joins inside shots")
        #expect(report.joins.contains { $0.join.kind == .continue } && report.joins.contains { $0.join.kind == .cut })
    }

    @Test func flagsAJoinBrokenOnPurpose() throws {
        let film = try temporaryDirectory().appendingPathComponent("broken.mp4")
        let text = Storyboards.threeShots()
        _ = try renderInProcess(text, to: film, faults: [.breakJoin])
        let (spec, layout) = try Self.layout(text)
        let report = try SeamInspector.inspect(film: film, layout: layout, format: spec.output)
        #expect(!report.passed)
        // The broken segment is wide/1: both its joins fail, on the sound (the test card's flashes and bursts make
        // its inside p99 of the picture measures and the flux as large as the break at 24 fps).
        let failed = report.failures.map { "\($0.join.before)|\($0.join.after)" }
        #expect(failed == ["wide/0|wide/1", "wide/1|wide/2"], "\(report.table)")
        #expect(report.failures.allSatisfy { $0.exceeded.contains(.soundJump) })
        // Cuts and continue transitions are never judged, whatever they measure.
        #expect(report.joins.filter { !$0.judged }.allSatisfy { $0.exceeded.isEmpty })
    }

    @Test func flagsTheBrokenPictureWhenFlashesAreRare() throws {
        let dir = try temporaryDirectory()
        let ok = dir.appendingPathComponent("ok.mp4"), broken = dir.appendingPathComponent("broken.mp4")
        _ = try renderInProcess(Self.fast, to: ok)
        _ = try renderInProcess(Self.fast, to: broken, faults: [.breakJoin])
        let (spec, layout) = try Self.layout(Self.fast)
        let good = try SeamInspector.inspect(film: ok, layout: layout, format: spec.output)
        #expect(good.passed, "\(good.table)")
        let bad = try SeamInspector.inspect(film: broken, layout: layout, format: spec.output)
        #expect(bad.failures.count == 2, "\(bad.table)")
        #expect(bad.failures.allSatisfy {
            $0.exceeded.contains(.pictureMAD) && $0.exceeded.contains(.pictureStructure)
        }, "\(bad.table)")
    }

    @Test func cliExitsOneOnASeamAndWritesAPlot() throws {
        let dir = try temporaryDirectory()
        let job = try Storyboards.write(Storyboards.threeShots())
        let ok = dir.appendingPathComponent("ok.mp4"), broken = dir.appendingPathComponent("broken.mp4")
        let plot = dir.appendingPathComponent("seams.png")
        for (film, fault) in [(ok, [String]()), (broken, ["--inject-fault", "break-join"])] {
            let render = try ProcessRunner.run(reelfarm, ["render", job.path, "-o", film.path, "--quiet"] + fault,
                                               timeout: 120)
            #expect(render.status == 0, "\(render.stderr)")
        }
        let pass = try ProcessRunner.run(reelfarm, ["inspect", ok.path, "--storyboard", job.path, "--plot", plot.path],
                                         timeout: 120)
        #expect(pass.status == 0, "\(pass.stdout)\(pass.stderr)")
        #expect(pass.stdout.contains("within the limits") && pass.stdout.contains("cut: not judged"))
        // The plot is a PNG an independent decoder reads, as wide as the film's frames need.
        let streams = try FFprobe.streams(plot)
        #expect(streams.first?.codecName == "png" && (streams.first?.width ?? 0) >= 480, "\(streams)")

        let fail = try ProcessRunner.run(reelfarm, ["inspect", broken.path, "--storyboard", job.path], timeout: 120)
        #expect(fail.status == 1, "\(fail.stdout)\(fail.stderr)")
        #expect(fail.stdout.contains("SEAM (") && fail.stdout.contains("FAIL"))
    }

    @Test func refusesAFilmOfAnotherStoryboardAndMissingFiles() throws {
        let dir = try temporaryDirectory()
        let film = dir.appendingPathComponent("f.mp4")
        _ = try renderInProcess(Storyboards.threeShots(), to: film)
        let other = try Storyboards.write(Storyboards.threeShots()
            .replacingOccurrences(of: "frames: 7", with: "frames: 9"))
        let wrong = try ProcessRunner.run(reelfarm, ["inspect", film.path, "--storyboard", other.path], timeout: 120)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("137 frames") && wrong.stderr.contains("plans 139"), "\(wrong.stderr)")
        let missing = try ProcessRunner.run(reelfarm, ["inspect", dir.appendingPathComponent("nope.mp4").path,
                                                       "--storyboard", other.path], timeout: 60)
        #expect(missing.status == 1 && missing.stderr.contains("nope.mp4: no such file"), "\(missing.stderr)")
        let both = try ProcessRunner.run(reelfarm, ["inspect", film.path], timeout: 60)
        #expect(both.status == 64 && both.stderr.contains("exactly one of --job"), "\(both.stderr)")
    }
}
