import FarmCore
import FarmStore
import FarmWire
import Foundation

/// What a task must hand back, worked out from the job's plan: the rule every result is held to before it is stored.
struct ExpectedOutputs {
    enum Kind {
        /// A segment: its owned frames as one chunk, its owned samples as PCM, and its last `tailSteps` latent steps.
        case segment(frames: Int, samples: Int, tailSteps: Int)
        /// An anchor pass: one latent step per anchor frame.
        case anchors(steps: Int)
    }

    var kind: Kind
    var format: OutputFormat
    var stepShapes: (video: [Int], audio: [Int])

    /// The output names, exactly.
    var names: Set<String> {
        switch kind {
        case .segment: ["chunk", "audio", "tail"]
        case .anchors: ["anchors"]
        }
    }
}

/// Why a result's outputs were refused; the attempt fails with this text.
struct BadResult: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Coordinator {
    /// The outputs `key` must produce, or nil when its job is not active (the result is then stale anyway).
    func expectedOutputs(_ key: TaskKey) throws -> ExpectedOutputs? {
        guard let job = try context(key.job) else { return nil }
        let shapes = job.plan.geometry.stepShapes(for: job.spec.output)
        if let pass = job.plan.anchors.first(where: { $0.id == key.key }) {
            return ExpectedOutputs(kind: .anchors(steps: pass.frames.count), format: job.spec.output, stepShapes: shapes)
        }
        guard let s = job.segment(key.key) else { return nil }
        return ExpectedOutputs(kind: .segment(frames: s.own.count, samples: s.samples.count, tailSteps: s.tailLatents),
                               format: job.spec.output, stepShapes: shapes)
    }

    /// Checks a result's outputs completely against what the task was asked for: exactly the expected names, PCM of
    /// exactly the owned samples, a chunk that parses (checksum, structure) with the owned frame count, the film's size
    /// and rate and the job's codec parameters, and latents of the engine's per-step layout with the planned steps.
    /// - Throws: ``BadResult`` naming the output and what is wrong.
    func check(_ outputs: [String: Data], of key: TaskKey, expected: ExpectedOutputs) throws(BadResult) {
        let names = Set(outputs.keys)
        guard names == expected.names else {
            let missing = expected.names.subtracting(names).sorted(), extra = names.subtracting(expected.names).sorted()
            throw BadResult("outputs \(names.sorted()) are not the task's \(expected.names.sorted())"
                            + (missing.isEmpty ? "" : "; missing \(missing)") + (extra.isEmpty ? "" : "; unexpected \(extra)"))
        }
        switch expected.kind {
        case .segment(let frames, let samples, let tailSteps):
            let audio = outputs["audio"]?.count ?? 0, size = samples * expected.format.channels * 4
            guard audio == size else {
                throw BadResult("output audio is \(audio) bytes; \(size) expected "
                                + "(owned samples × \(expected.format.channels) channels × 4 bytes)")
            }
            try checkChunk(outputs["chunk"] ?? Data(), frames: frames, of: key, format: expected.format)
            try checkLatents(outputs["tail"] ?? Data(), name: "tail", steps: tailSteps, shapes: expected.stepShapes)
        case .anchors(let steps):
            try checkLatents(outputs["anchors"] ?? Data(), name: "anchors", steps: steps, shapes: expected.stepShapes)
        }
    }

    private func checkChunk(_ data: Data, frames: Int, of key: TaskKey, format: OutputFormat) throws(BadResult) {
        let chunk: ChunkSummary
        do {
            chunk = try config.assembler.inspect(EncodedChunk(data: data))
        } catch {
            throw BadResult("output chunk is corrupt: \(error)")
        }
        guard chunk.frameCount == frames else {
            throw BadResult("output chunk holds \(chunk.frameCount) frames; the segment owns \(frames)")
        }
        guard chunk.width == format.width, chunk.height == format.height else {
            throw BadResult("output chunk is \(chunk.width)x\(chunk.height); the film is \(format.width)x\(format.height)")
        }
        guard chunk.fps == format.fps else {
            throw BadResult("output chunk runs at \(chunk.fps) fps; the film at \(format.fps) fps")
        }
        // Chunks join without re-encoding, so they must share one codec header: the first accepted chunk of a job
        // sets it (after a restart, the first stored one found).
        let reference: Data
        if let known = jobIndex.chunkParameters[key.job] {
            reference = known
        } else if let stored = storedChunkParameters(job: key.job) {
            reference = stored
        } else {
            jobIndex.chunkParameters[key.job] = chunk.parameters
            return
        }
        jobIndex.chunkParameters[key.job] = reference
        guard chunk.parameters == reference else {
            throw BadResult("output chunk's codec parameters (SPS/PPS, \(chunk.parameters.count) bytes) differ from "
                            + "the job's other chunks (\(reference.count) bytes): encoded with other settings")
        }
    }

    /// The codec header of any chunk of `job` already stored, for the compatibility rule after a restart.
    private func storedChunkParameters(job: String) -> Data? {
        guard let hash = try? store.anyOutput(job: job, name: "chunk"), let data = try? store.artifacts.read(hash),
              let chunk = try? config.assembler.inspect(EncodedChunk(data: data)) else { return nil }
        return chunk.parameters
    }

    private func checkLatents(_ data: Data, name: String, steps: Int,
                              shapes: (video: [Int], audio: [Int])) throws(BadResult) {
        let latents: Latents
        do {
            latents = try LatentsCodec.decode(data)
        } catch {
            throw BadResult("output \(name) is not latents: \(error)")
        }
        guard latents.count == steps else {
            throw BadResult("output \(name) holds \(latents.count) latent steps; the plan asks for \(steps)")
        }
        let video = Array(latents.video.shape.dropFirst()), audio = Array(latents.audio.shape.dropFirst())
        guard video == shapes.video, audio == shapes.audio else {
            throw BadResult("output \(name) has steps of video \(video) and audio \(audio); the engine's layout is "
                            + "video \(shapes.video) and audio \(shapes.audio)")
        }
        guard latents.video.values.allSatisfy(\.isFinite), latents.audio.values.allSatisfy(\.isFinite) else {
            throw BadResult("output \(name) holds values that are not finite (NaN or infinity)")
        }
    }
}
