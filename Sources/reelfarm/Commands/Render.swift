import ArgumentParser
import FarmCore
import FarmMedia
import FarmRender
import Foundation

extension ReelFarm {
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render a storyboard on this machine into one MP4 (H.264 + AAC).")

        @OptionGroup var job: JobArgument
        @Option(name: .shortAndLong, help: "Output MP4 file.") var output: String
        @Option(help: "Segments generated at once (default: CPU cores).")
        var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
        @Flag(help: "No progress bar.") var quiet = false
        @OptionGroup var log: LogOptions
        @Option(help: ArgumentHelp("Deliberate mistake, for tests: drop-context | break-join | shift-audio:SAMPLES.", visibility: .private))
        var injectFault: [String] = []

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be ≥ 1") }
            for f in injectFault where RenderFault(argument: f) == nil {
                throw ValidationError("unknown fault \(f)")
            }
        }

        func run() throws {
            log.apply()
            // Before anything is generated: a film with nowhere to go is refused at once.
            try FileChecks.outputFile(output, command: "render")
            let (context, engine) = try loadJob(job.job, images: true)
            let renderer = LocalRenderer(
                runner: SegmentRunner(engine: engine, encoder: H264ChunkEncoder()),
                assembler: MP4FilmAssembler(), jobs: jobs, progress: quiet ? nil : ProgressBar(),
                faults: Set(injectFault.compactMap(RenderFault.init(argument:))))
            let url = URL(fileURLWithPath: output)
            do {
                let report = try renderer.render(context, to: url)
                if !quiet {
                    printError(String(format: "rendered %@: %d segments, %d frames, %d samples; generate %.2f s, assemble %.2f s",
                                      output, report.segments, report.frames, report.samples,
                                      report.generateSeconds, report.assembleSeconds))
                }
            } catch {
                printError("reelfarm render: \(FileChecks.describe(error, path: output))")
                throw ExitCode.failure
            }
        }
    }
}
