import ArgumentParser
import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import Foundation

extension ReelFarm {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode a test-card film and check it against its storyboard.",
            discussion: "Checks frame numbers, flashes, burst onsets (±1 ms), durations and continuity at joins. Exits 1 on any failure.")

        @Argument(help: "The MP4 to check.") var film: String
        @Option(help: "The storyboard it was rendered from (file or sample:NAME).") var job: String

        func run() throws {
            MediaLog.setLevel(.errors)
            let (context, _) = try loadJob(job)
            let report: VerifyReport
            do {
                report = try FilmVerifier.verify(film: URL(fileURLWithPath: film), job: context)
            } catch {
                printError("reelfarm verify: \(film): \(error)")
                throw ExitCode.failure
            }
            print(report.description)
            if !report.passed { throw ExitCode.failure }
        }
    }
}
