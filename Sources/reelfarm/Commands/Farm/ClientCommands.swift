import ArgumentParser
import FarmCore
import FarmWire
import Foundation

extension ReelFarm {
    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a storyboard to the farm; prints the job id.")

        @OptionGroup var job: JobArgument
        @OptionGroup var farm: CoordinatorOption
        @Option(help: "Higher runs first.") var priority: Int = 0
        @Option(help: ArgumentHelp(
            "Submit as the next revision of this job's film: segments whose inputs did not change are reused, not rendered.",
            valueName: "job"))
        var revise: String?
        @Flag(help: "Render every segment, even those a finished job already made with the same inputs.")
        var noReuse = false
        @Flag(help: """
            Render a draft of the whole film first (the storyboard's model.draft, else a quarter of the steps at half \
            size), then the final as its revision, queued behind it (the draft runs at --priority + 1).
            """)
        var draft = false
        @Flag(help: "Run each shot's first segment ahead of the job's other segments, so every shot can be reviewed early.")
        var previewFirst = false
        @Flag(help: "Show live progress per shot until the job ends.") var follow = false
        @OptionGroup var log: LogOptions

        func run() throws {
            log.apply()
            // Validate here first: a bad storyboard exits 2 with its fields named and nothing is sent.
            let spec = try checkSubmission(job.job)
            // The images travel with the job: the coordinator never reads this machine's files.
            let assets = try Array(Set(spec.imagePaths)).sorted().map { path in
                do {
                    return (path: path, data: try Data(contentsOf: URL(fileURLWithPath: path)))
                } catch {
                    throw ValidationError("image \(path) cannot be read: \(error.localizedDescription)")
                }
            }
            let text = job.job.hasPrefix("sample:") ? SampleStoryboards.text(String(job.job.dropFirst(7)))!
                : try String(contentsOfFile: job.job, encoding: .utf8)
            let client = try farm.client()
            let base = job.job.hasPrefix("sample:") ? nil : URL(fileURLWithPath: job.job).deletingLastPathComponent().standardizedFileURL.path
            let drafted = draft ? spec.model.draft ?? .standard(for: spec.model) : spec.model.draft
            let submitted = try clientCall {
                var revises = revise
                if let drafted {
                    // The draft first, one priority above, then the final as its revision: nothing of the draft is
                    // reused (other steps and size make other keys), and the final waits behind it in the queue.
                    let d = try client.submit(storyboard: text, source: job.job, priority: priority + 1, baseDirectory: base,
                                              assets: assets, revise: revise, reuse: !noReuse, draft: drafted,
                                              previewFirst: previewFirst)
                    printError("draft \(d.job): \(drafted.steps) steps at \(drafted.scale) size, priority \(priority + 1)")
                    revises = d.job
                }
                return try client.submit(storyboard: text, source: job.job, priority: priority, baseDirectory: base, assets: assets,
                                         revise: revises, reuse: !noReuse, previewFirst: previewFirst)
            }
            print(submitted.job)
            if let reused = submitted.reused {
                let revision = submitted.revision.flatMap { r in r > 1 ? submitted.film.map { ", revision \(r) of \($0)" } : nil } ?? ""
                printError("submitted \(submitted.job)\(revision): \(reused) of \(submitted.tasks) tasks reused, "
                           + "\(submitted.tasks - reused) to run")
            }
            if follow { try Follow.run(client, job: submitted.job) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show all jobs, or one job's shots, tasks and workers.")

        @Argument(help: "A job id (all jobs when omitted).") var job: String?
        @OptionGroup var farm: CoordinatorOption
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let client = try farm.client()
            let report = try clientCall { try client.status(job: job) }
            if json { print(StatusFormatter.json(report)); return }
            print(job == nil ? StatusFormatter.jobs(report) : StatusFormatter.job(report))
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Follow a job's progress until it ends.")
        @Argument(help: "The job id.") var job: String
        @OptionGroup var farm: CoordinatorOption

        func run() throws { try Follow.run(try farm.client(), job: job) }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a finished job's film; optionally its OpenTimelineIO timeline and one MP4 per shot.",
            discussion: """
                With --otio or --split-shots the job is laid out as the coordinator planned it (its storyboard and \
                latent grid); -o may then be left out (the film is downloaded to a temporary file and removed after).
                """)
        @Argument(help: "The job id.") var job: String
        @Option(name: .shortAndLong, help: "Output MP4 file.") var output: String?
        @OptionGroup var delivery: DeliveryOptions
        @OptionGroup var farm: CoordinatorOption

        func validate() throws {
            guard output != nil || delivery.any else {
                throw ValidationError("nothing to write: give -o FILM.mp4, --otio FILE and/or --split-shots DIR")
            }
        }

        func run() throws {
            // Before asking the coordinator for anything: a film with nowhere to go is refused at once.
            if let output { try FileChecks.outputFile(output, command: "fetch") }
            try delivery.check(command: "fetch")
            let client = try farm.client()
            let laidOut = delivery.any ? try farmLayout(client, job: job) : nil
            let target = output.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory
                    .appendingPathComponent("reelfarm-fetch-\(UUID().uuidString).mp4")
            defer { if output == nil { try? FileManager.default.removeItem(at: target) } }
            let bytes = try clientCall {
                do {
                    return try client.fetch(job: job, to: target)
                } catch let error as FarmClient.ClientError {
                    throw error
                } catch {
                    printError("reelfarm fetch: \(FileChecks.describe(error, path: target.path))")
                    throw ExitCode.failure
                }
            }
            printError("fetched \(job): \(bytes) bytes" + (output.map { " → \($0)" } ?? ""))
            if let (spec, layout) = laidOut {
                try delivery.deliver(film: target, keptFilm: output, title: spec.title, layout: layout,
                                     format: spec.output, command: "fetch")
            }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job; its running tasks are stopped on their workers.")
        @Argument(help: "The job id.") var job: String
        @OptionGroup var farm: CoordinatorOption

        func run() throws {
            let client = try farm.client()
            let c = try clientCall { try client.cancel(job: job) }
            print("cancelled \(c.job) (\(c.stoppedTasks) running tasks stopped)")
        }
    }

    struct Retry: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a failed or cancelled job again; finished segments are kept, the rest run again.")
        @Argument(help: "The job id.") var job: String
        @OptionGroup var farm: CoordinatorOption

        func run() throws {
            let client = try farm.client()
            let r = try clientCall { try client.retry(job: job) }
            print("retrying \(r.job): \(r.requeuedTasks) tasks to run again")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a finished, failed or cancelled job with its film and the intermediates only it used.")
        @Argument(help: "The job ids.") var jobs: [String]
        @OptionGroup var farm: CoordinatorOption

        func run() throws {
            let client = try farm.client()
            for job in jobs {
                let d = try clientCall { try client.delete(job: job) }
                print("deleted \(d.job): \(d.removedArtifacts) artifact files, \(d.freedBytes) bytes freed")
            }
        }
    }

    struct Workers: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the workers and the messages the coordinator refused.",
            discussion: "At most 500 workers a page, connected ones first; the totals follow.")
        @OptionGroup var farm: CoordinatorOption
        @Flag(help: "Print JSON.") var json = false
        @Option(help: "Start the list at this worker (0 is the first).") var offset: Int = 0

        func validate() throws {
            guard offset >= 0 else { throw ValidationError("--offset must be 0 or more, not \(offset)") }
        }

        func run() throws {
            let client = try farm.client()
            let r = try clientCall { try client.workers(offset: offset) }
            print(json ? StatusFormatter.json(r) : StatusFormatter.workers(r))
        }
    }
}

/// Live per-shot progress on stderr until the job ends; exits non-zero when it failed or was cancelled. On a file or
/// pipe, plain snapshots at most every two seconds instead of a redrawn block (no escape codes in a log).
enum Follow {
    static func run(_ client: FarmClient, job: String, quiet: Bool = false) throws {
        let terminal = isatty(STDERR_FILENO) == 1
        var lastLines = 0
        var lastText = "", lastPrinted = Date.distantPast
        while true {
            let report = try clientCall { try client.status(job: job) }
            guard let j = report.jobs.first else { throw ExitCode.failure }
            let ended = ["done", "failed", "cancelled"].contains(j.state)
            if !quiet && !terminal {
                let text = StatusFormatter.job(report, tasks: false)
                if text != lastText && (ended || Date().timeIntervalSince(lastPrinted) >= 2) {
                    FileHandle.standardError.write(Data((text + "\n").utf8))
                    lastText = text
                    lastPrinted = Date()
                }
            } else if !quiet {
                let text = StatusFormatter.job(report, tasks: false)
                let up = lastLines > 0 ? "\u{1B}[\(lastLines)A" : ""
                FileHandle.standardError.write(Data((up + text.split(separator: "\n").map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n").utf8))
                lastLines = text.split(separator: "\n").count
            }
            switch j.state {
            case "done": return
            case "failed", "cancelled":
                printError("job \(job) \(j.state)\(j.error.map { ": \($0)" } ?? "")")
                throw ExitCode.failure
            default: Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }
}
