import ArgumentParser
import FarmCore
import FarmRender
import FarmWire
import Foundation

/// The outputs `fetch` and `deliver` hand to editorial, checked before any work.
struct DeliveryOptions: ParsableArguments {
    @Option(help: """
        Write an OpenTimelineIO timeline (.otio): one clip per shot on a video and an audio track, a marker at every \
        segment join.
        """)
    var otio: String?
    @Option(name: .customLong("split-shots"),
            help: """
                Write one MP4 per shot into this folder (created if missing): picture by stream copy, sound cut on the \
                exact samples.
                """)
    var splitShots: String?

    var any: Bool { otio != nil || splitShots != nil }

    /// Refuses outputs that cannot be written (exit 1), before anything is fetched or decoded.
    func check(command: String) throws {
        if let otio { try FileChecks.outputFile(otio, command: command) }
        if let splitShots, let problem = FileChecks.dataDirectoryProblem(splitShots) {
            let folder = problem.replacingOccurrences(of: "data directory", with: "folder")
            printError("reelfarm \(command): --split-shots: \(folder)")
            throw ExitCode.failure
        }
    }

    /// Writes what was asked for from the film at `film`; `keptFilm` is the film's lasting path (nil: a temporary
    /// download that goes away), which the timeline's clips then point at.
    func deliver(film: URL, keptFilm: String?, title: String, layout: FilmLayout, format: OutputFormat,
                 command: String) throws {
        do {
            var shotFiles: [URL] = []
            if let splitShots {
                let folder = URL(fileURLWithPath: splitShots)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                shotFiles = try FilmDelivery.splitShots(film: film, layout: layout, format: format, into: folder)
                printError("\(command): \(shotFiles.count) shots → \(splitShots)")
            } else {
                try FilmDelivery.checkFilm(film, layout: layout, format: format)
            }
            if let otio {
                let media: OTIOTimeline.Media
                if let keptFilm {
                    media = .film(url: URL(fileURLWithPath: keptFilm).standardizedFileURL.absoluteString)
                } else if !shotFiles.isEmpty {
                    media = .shots(urls: shotFiles.map { $0.standardizedFileURL.absoluteString })
                } else {
                    media = .none
                }
                try FilmDelivery.writeOTIO(title: title, layout: layout, media: media, to: URL(fileURLWithPath: otio))
                printError("\(command): timeline of \(layout.shots.count) shots and \(layout.joins.count) joins "
                           + "→ \(otio)")
            }
        } catch let failure as FilmDelivery.Failure {
            printError("reelfarm \(command): \(failure)")
            throw ExitCode.failure
        } catch {
            printError("reelfarm \(command): \(FileChecks.describe(error, path: otio ?? splitShots ?? film.path))")
            throw ExitCode.failure
        }
    }
}

/// Lays out a storyboard on disk as `render` would plan it; a bad storyboard prints every broken rule and exits 2.
func loadLayout(_ argument: String) throws -> (JobSpec, FilmLayout) {
    do {
        let spec = try JobSource.load(argument)
        guard let geometry = try EngineRegistry.plannedGeometry(for: spec.model) else {
            printError("reelfarm: \(argument): engine \(spec.model.engine) is not built in, so its latent grid is not "
                       + "known here; use the farm's job instead (--job JOB), which carries the grid it was planned with")
            throw ExitCode(specErrorExitCode)
        }
        return (spec, try FilmDelivery.layout(spec: spec, geometry: geometry, source: argument))
    } catch let error as SpecError {
        printError(error.description)
        throw ExitCode(specErrorExitCode)
    }
}

/// Lays out a farm job exactly as its coordinator planned it (its storyboard and the grid it kept).
func farmLayout(_ client: FarmClient, job: String) throws -> (JobSpec, FilmLayout) {
    let plan = try clientCall { try client.plan(job: job) }
    do {
        var spec = try JobSpec.parse(plan.storyboard, source: plan.source,
                                     baseDirectory: plan.baseDirectory.map { URL(fileURLWithPath: $0) },
                                     checkingFiles: false)
        if let draft = plan.draft { spec = spec.drafted(draft) }
        let geometry: EngineGeometry
        if let doc = plan.geometry {
            geometry = try doc.geometry()
        } else if let builtIn = try EngineRegistry.plannedGeometry(for: spec.model) {
            geometry = builtIn
        } else {
            printError("reelfarm: job \(job): the coordinator kept no latent grid for engine \(spec.model.engine)")
            throw ExitCode.failure
        }
        return (spec, try FilmDelivery.layout(spec: spec, geometry: geometry, source: plan.source))
    } catch let error as SpecError {
        printError("reelfarm: job \(job): its storyboard no longer plans: \(error.description)")
        throw ExitCode.failure
    } catch let error as WireError {
        printError("reelfarm: job \(job): the coordinator's latent grid is unusable: \(error)")
        throw ExitCode.failure
    }
}

extension ReelFarm {
    struct Deliver: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the OpenTimelineIO timeline and per-shot MP4s of a film already on disk.",
            discussion: """
                The film is laid out by its storyboard, planned as `render` plans it (same engine grid, window, \
                overlap and schedule), so this gives what `fetch --otio/--split-shots` gives for a farm job. A film \
                whose frame or sample count is not the storyboard's is refused.
                """)

        @Argument(help: "The MP4 (as `render` or `fetch` wrote it).") var film: String
        @Option(help: "Its storyboard (file or sample:NAME).") var storyboard: String
        @OptionGroup var outputs: DeliveryOptions
        @OptionGroup var log: LogOptions

        func validate() throws {
            guard outputs.any else {
                throw ValidationError("nothing to write: give --otio FILE and/or --split-shots DIR")
            }
        }

        func run() throws {
            log.apply()
            try FileChecks.inputFile(film, command: "deliver")
            try outputs.check(command: "deliver")
            let (spec, layout) = try loadLayout(storyboard)
            try outputs.deliver(film: URL(fileURLWithPath: film), keptFilm: film, title: spec.title, layout: layout,
                                format: spec.output, command: "deliver")
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure the seams at every segment join of a film (any engine) against inside its segments.",
            discussion: """
                At every join: the picture change (mean absolute luma difference and 1 − SSIM of the two frames either \
                side) and the sound's change (largest sample-to-sample step, spectral flux of the 1024 samples either \
                side), next to the 99th percentile (p99) of the same measures inside segments. A join inside a shot \
                FAILS when any measure is above 2 × its inside p99 + a floor (picture MAD 1.0 level, 1 − SSIM 0.02, \
                sound jump 0.01 of full scale, flux 0.05); joins between shots (cuts, continue transitions) are \
                reported and never fail. Exits 1 when a join fails, 2 for a bad storyboard.
                """)

        @Argument(help: "The MP4 to inspect.") var film: String
        @Option(help: "A farm job id: lay the film out as the coordinator planned that job.") var job: String?
        @Option(help: "Or its storyboard (file or sample:NAME), planned as `render` plans it.") var storyboard: String?
        @Option(help: "Write a PNG plot of the picture change per frame with the joins marked.") var plot: String?
        @OptionGroup var farm: CoordinatorOption
        @OptionGroup var log: LogOptions

        func validate() throws {
            guard (job == nil) != (storyboard == nil) else {
                throw ValidationError("give exactly one of --job JOB (a farm job) and --storyboard FILE")
            }
        }

        func run() throws {
            log.apply()
            try FileChecks.inputFile(film, command: "inspect")
            if let plot { try FileChecks.outputFile(plot, command: "inspect") }
            let (spec, layout) = if let job {
                try farmLayout(try farm.client(), job: job)
            } else {
                try loadLayout(storyboard ?? "")
            }
            let report: SeamReport
            do {
                report = try SeamInspector.inspect(film: URL(fileURLWithPath: film), layout: layout,
                                                   format: spec.output)
            } catch {
                printError("reelfarm inspect: \(film): \(error)")
                throw ExitCode.failure
            }
            print("engine \(spec.model.engine), schedule \(spec.model.schedule.rawValue): \(report.table)")
            if let plot {
                do {
                    try SeamPlot.png(report).write(to: URL(fileURLWithPath: plot), options: .atomic)
                } catch {
                    printError("reelfarm inspect: \(FileChecks.describe(error, path: plot))")
                    throw ExitCode.failure
                }
            }
            if !report.passed { throw ExitCode.failure }
        }
    }
}
