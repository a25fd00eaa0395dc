import ArgumentParser
import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import Foundation

extension ReelFarm {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode a film and check it against its storyboard.",
            discussion: """
                Any engine: streams (codecs, size, rate) and durations. Test-card films also: frame numbers, flashes, \
                burst onsets (±1 ms) and continuity at joins; for other engines these are shown as not applicable. \
                Exits 1 when an applicable check fails.
                """)

        @Argument(help: "The MP4 to check.") var film: String
        @Option(help: "The storyboard it was rendered from (file or sample:NAME).") var job: String
        @OptionGroup var log: LogOptions

        func run() throws {
            log.apply()
            let (context, _) = try loadJob(job)
            let report: VerifyReport
            do {
                report = try FilmVerifier.verify(film: URL(fileURLWithPath: film), job: context)
            } catch {
                printError("reelfarm verify: \(film): \(error)")
                throw ExitCode.failure
            }
            let names = report.applicable.map(\.name).joined(separator: ", ")
            print("engine \(context.spec.model.engine): checks that apply: \(names)")
            print(report.description)
            if !report.passed { throw ExitCode.failure }
        }
    }
}
