import FarmCore
import FarmMedia
import FarmTestCard
import Foundation

/// `reelfarm bench assemble`: encodes minutes of test card into chunks (untimed), then times assembly of the
/// film (chunk concatenation + the one AAC encode + MP4 mux) against the film's own duration, twice: whole after the
/// last segment (as after a coordinator restart), and as the farm does it, progressively while segments land, where
/// what counts is the time from the last segment to the film hashed and stored.
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
        public var filmBytes: Int
        /// Whole assemblies, each from the parts to the film written.
        public var assembleSeconds: [Double]
        /// Hashing and storing the whole assembly's film, once.
        public var storeSeconds: Double
        /// Progressive assemblies: the segments before the last, fed as they would land (not part of the figure).
        public var aheadSeconds: [Double]
        /// Progressive assemblies: last segment → film written, hashed and stored.
        public var tailSeconds: [Double]

        public var median: Double { Self.median(assembleSeconds) }
        public var tailMedian: Double { Self.median(tailSeconds) }
        public var ratio: Double { median / filmSeconds }

        private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

        public var description: String {
            func list(_ values: [Double]) -> String {
                values.map { String(format: "%.3f", $0) }.joined(separator: ", ")
            }
            return [
                String(format: "film         %.1f s of %@ test card, %d chunks (%.1f MiB of H.264, encoded before "
                       + "timing), %.1f MiB of MP4", filmSeconds, size, segments, Double(chunkBytes) / 1_048_576,
                       Double(filmBytes) / 1_048_576),
                String(format: "assembly     whole, after the last segment: %@ s (median %.3f s); hashing and storing "
                       + "the film %.3f s more", list(assembleSeconds), median, storeSeconds),
                String(format: "ratio        %.4f of the film's duration (aim ≤ 0.01)", ratio),
                String(format: "progressive  last segment → film stored (hashed, in the artifact store): %@ s "
                       + "(median %.3f s; aim ≤ 1 s)", list(tailSeconds), tailMedian),
                String(format: "             the %d segments before it took %@ s as they landed", segments - 1,
                       list(aheadSeconds)),
                "byte-identical: yes (the progressive film hashes as the whole assembly's)",
            ].joined(separator: "\n")
        }
    }

    /// The progressive film's bytes differ from the whole assembly's.
    public struct NotIdentical: Error, CustomStringConvertible {
        public var whole: String
        public var progressive: String
        public var description: String {
            "byte-identical: no: the progressive film hashes to \(progressive), the whole assembly to \(whole)"
        }
    }

    /// - Parameters:
    ///   - store: hashes a film file and moves it into a content-addressed store, as the coordinator does (the CLI
    ///     passes `ArtifactStore.adopt(_:)`); returns its hash and size.
    ///   - log: progress lines.
    /// - Throws: ``NotIdentical`` when the two assemblies' films differ; what encoding or assembling threw.
    public func run(store: (URL) throws -> (hash: String, size: Int), log: (String) -> Void) throws -> Result {
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
        var audio: [PCMBuffer] = []
        for segment in job.plan.segments {
            let task = try job.segmentTask(segment, tail: { tails[$0] }, anchors: { _ in nil })
            let artifact = try runner.run(task) { _, _ in }
            tails[segment.id] = artifact.tail
            chunks.append(artifact.chunk)
            audio.append(artifact.audio)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let assembler = MP4FilmAssembler()
        func elapsed(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

        var times: [Double] = []
        for i in 0..<runs {
            let out = dir.appendingPathComponent("film-\(i).mp4")
            let start = DispatchTime.now().uptimeNanoseconds
            try assembler.assemble(FilmInMemory(chunks: chunks, audio: audio), format: spec.output, to: out)
            times.append(elapsed(since: start))
            log(String(format: "bench assemble: whole, run %d: %.3f s", i + 1, times.last!))
            if i > 0 { try FileManager.default.removeItem(at: out) }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let whole = try store(dir.appendingPathComponent("film-0.mp4"))
        let storeSeconds = elapsed(since: start)

        var ahead: [Double] = [], tail: [Double] = []
        for i in 0..<runs {
            guard let film = try assembler.begin(format: spec.output, workingDirectory: dir) else {
                throw MediaError.invalidInput("the assembler cannot assemble progressively")
            }
            var start = DispatchTime.now().uptimeNanoseconds
            for landed in 1 ..< chunks.count {
                try film.append(FilmInMemory(chunks: Array(chunks[..<landed]), audio: Array(audio[..<landed])))
            }
            ahead.append(elapsed(since: start))
            start = DispatchTime.now().uptimeNanoseconds
            let out = dir.appendingPathComponent("progressive-\(i).mp4")
            try film.finish(FilmInMemory(chunks: chunks, audio: audio), to: out)
            let stored = try store(out)
            tail.append(elapsed(since: start))
            log(String(format: "bench assemble: progressive, run %d: %.3f s after the last segment", i + 1, tail.last!))
            guard stored.hash == whole.hash else { throw NotIdentical(whole: whole.hash, progressive: stored.hash) }
        }
        let film = spec.output.clock.time(ofFrame: job.plan.totalFrames).approximation
        return Result(filmSeconds: film, size: "\(width)×\(height)", segments: chunks.count,
                      chunkBytes: chunks.reduce(0) { $0 + $1.data.count }, filmBytes: whole.size,
                      assembleSeconds: times, storeSeconds: storeSeconds, aheadSeconds: ahead, tailSeconds: tail)
    }
}
