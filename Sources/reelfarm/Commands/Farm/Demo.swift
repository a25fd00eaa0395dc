import ArgumentParser
import FarmCoordinator
import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import FarmWire
import Foundation

extension ReelFarm {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A local farm in one command: coordinator + workers on loopback render the sample, then verify it.")

        @Option(name: .shortAndLong, help: "Where to write the film.") var output: String = "out/cyber-lobster.mp4"
        @Option(help: "Workers to start.") var workers: Int = 2
        @Option(help: "Storyboard to render (file or sample:NAME).") var job: String = "sample:cyber-lobster"
        @Option(help: "Coordinator data directory (default: a fresh temporary one).") var data: String?
        @OptionGroup var log: LogOptions

        func run() throws {
            log.apply()
            let (context, _) = try loadJob(job, images: true)
            let text = job.hasPrefix("sample:") ? SampleStoryboards.text(String(job.dropFirst(7)))! : try String(contentsOfFile: job, encoding: .utf8)
            let dir = URL(fileURLWithPath: data ?? NSTemporaryDirectory() + "reelfarm-demo-\(getpid())")
            let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            let farm = try LocalFarm(executable: exe, dataDirectory: dir)
            defer { farm.shutdown() }
            try farm.startCoordinator()
            for i in 1...max(1, workers) { try farm.startWorker(name: "worker-\(i)") }
            printError("demo: coordinator on \(farm.endpoint) (data \(dir.path)), \(workers) workers")
            let client = try FarmClient(endpoint: farm.endpoint)
            let base = job.hasPrefix("sample:") ? nil : URL(fileURLWithPath: job).deletingLastPathComponent().standardizedFileURL.path
            let submitted = try clientCall { try client.submit(storyboard: text, source: job, priority: 0, baseDirectory: base) }
            printError("demo: submitted \(submitted.job): \(submitted.tasks) tasks, \(submitted.frames) frames")
            try Follow.run(client, job: submitted.job)
            let url = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let bytes = try clientCall { try client.fetch(job: submitted.job, to: url) }
            printError("demo: fetched \(bytes) bytes")
            let report = try FilmVerifier.verify(film: url, job: context)
            print(report.description)
            farm.shutdown()
            print("film: \(output)")
            if !report.passed { throw ExitCode.failure }
        }
    }
}
