import FarmCore
import FarmMedia
import FarmTestCard
import Foundation

/// `reelfarm bench assemble`: encodes minutes of test card into chunks (untimed), then times assembly of the
/// film (chunk concatenation + the one AAC encode + MP4 mux) against the film's own duration.
public struct AssembleBenchmark: Sendable {
    public var seconds: Int
    public var width: Int
    public var height: Int
    public var runs: Int

    public init(seconds: Int, width: Int, height: Int, runs: Int) {
        self.seconds = seconds
        self.width = width
        self.height = height
        self.runs = runs
    }

    /// The measured figures.
    public struct Result: Sendable, CustomStringConvertible {
        public var filmSeconds: Double
        public var size: String
        public var segments: Int
        public var chunkBytes: Int
        public var assembleSeconds: [Double]
        public var median: Double { assembleSeconds.sorted()[assembleSeconds.count / 2] }
        public var ratio: Double { median / filmSeconds }

        public var description: String {
            let runs = assembleSeconds.map { String(format: "%.3f", $0) }.joined(separator: ", ")
            return [
                String(format: "film       %.1f s of %@ test card, %d chunks (%.1f MiB of H.264, encoded before timing)",
                       filmSeconds, size, segments, Double(chunkBytes) / 1_048_576),
                String(format: "assembly   %@ s (median %.3f s)", runs, median),
                String(format: "ratio      %.4f of the film's duration (aim ≤ 0.01)", ratio),
            ].joined(separator: "\n")
        }
    }

    public func run(log: (String) -> Void) throws -> Result {
        let text = """
            title: assemble benchmark
            output: {width: \(width), height: \(height), fps: "24", sample_rate: 48000, channels: 2}
            model: {engine: testcard, window: 97, overlap: 17, steps: 1, seed: 1, schedule: chain}
            shots:
              - {id: bench, duration: \(seconds), prompt: benchmark}
            """
        let spec = try JobSpec.parse(text, source: "bench")
        let engine = TestCardEngine()
        let job = try JobContext(spec: spec, geometry: engine.geometry)
        let runner = SegmentRunner(engine: engine, encoder: H264ChunkEncoder())
        log("bench assemble: encoding \(job.plan.segments.count) chunks of \(width)×\(height) (not timed)…")
        // The chain's segments depend on one another, so generate them in order here; only assembly is timed.
        var tails: [String: Latents] = [:]
        var chunks: [EncodedChunk] = []
        var audio = PCMBuffer(channels: 2)
        for segment in job.plan.segments {
            let task = try job.segmentTask(segment, tail: { tails[$0] }, anchors: { _ in nil })
            let artifact = try runner.run(task) { _, _ in }
            tails[segment.id] = artifact.tail
            chunks.append(artifact.chunk)
            audio.samples += artifact.audio.samples
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var times: [Double] = []
        for i in 0..<runs {
            let out = dir.appendingPathComponent("film-\(i).mp4")
            let start = DispatchTime.now().uptimeNanoseconds
            try MP4FilmAssembler().assemble(chunks: chunks, audio: audio, format: spec.output, to: out)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            log(String(format: "bench assemble: run %d: %.3f s", i + 1, times.last!))
        }
        let film = spec.output.clock.time(ofFrame: job.plan.totalFrames).approximation
        return Result(filmSeconds: film, size: "\(width)×\(height)", segments: chunks.count,
                      chunkBytes: chunks.reduce(0) { $0 + $1.data.count }, assembleSeconds: times)
    }
}
