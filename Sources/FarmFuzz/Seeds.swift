import FarmCore
import FarmEngineHost
import FarmInference
import FarmMedia
import FarmWire
import Foundation

/// Valid inputs for each target, made with the real encoders so they follow the current formats.
enum Seeds {
    static func make(_ target: FuzzTarget) throws -> [[UInt8]] {
        switch target {
        case .wire: return wire()
        case .storyboard:
            return [Array((SampleStoryboards.text("cyber-lobster") ?? "").utf8), Array(jsonStoryboard.utf8)]
        case .chunk:
            MediaLog.setLevel(.errors)
            let format = OutputFormat(width: 192, height: 64, fps: Rational(24), sampleRate: 48_000, channels: 2)
            var frames = VideoFrames(width: 192, height: 64)
            for i in 0 ..< 4 { frames.append(frame: (0 ..< 192 * 64 * 3).map { UInt8(truncatingIfNeeded: $0 / 97 &+ i * 40) }) }
            return [Array(try H264ChunkEncoder().encode(frames, format: format).data)]
        case .safetensors:
            var w = SafetensorsWriter(metadata: ["config": "tiny"])
            w.add("a.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
            w.add("b.bias", shape: [3], values: [0.5, -1, 2])
            let half = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"g":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]}}"#
            var f16 = withUnsafeBytes(of: UInt64(half.utf8.count).littleEndian) { Array($0) } + Array(half.utf8)
            f16 += [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F]
            return [Array(w.encoded()), f16]
        case .engine: return EngineInput.seeds()
        case .http: return HTTPInput.seeds()
        case .latents:
            return [Array(LatentsCodec.encode(latents(3))), Array(LatentsCodec.encode(latents(0)))]
        case .pcm:
            let pcm = Array(PCMCodec.encode(PCMBuffer(channels: 2, samples: [0, 0.5, -0.5, 1])))
            return [[2] + pcm, [0x80, 2, 0, 0, 0, 0, 0, 0, 0] + pcm]
        }
    }

    static func latents(_ t: Int) -> Latents {
        Latents(video: LatentTensor(shape: [t, 4, 1, 2], values: (0 ..< t * 8).map { Float($0) / 8 }),
                audio: LatentTensor(shape: [t, 2], values: (0 ..< t * 2).map { -Float($0) }))
    }

    static let jsonStoryboard = """
        {"title": "fuzz", "output": {"width": 320, "height": 192, "fps": "30000/1001", "sample_rate": 48000},
         "model": {"engine": "testcard", "window": 17, "overlap": 4, "steps": 2, "seed": 7, "schedule": "anchored"},
         "requires": {"device": "cpu", "tags": ["a"], "memory_gib": 1},
         "shots": [{"id": "a", "duration": 1.5, "prompt": "p", "cues": [{"at": 0.5, "sound": "s"}]},
                   {"id": "b", "frames": 20, "prompt": "q", "transition": "continue",
                    "keyframes": [{"at": "1/2", "image": "k.png"}]}]}
        """

    static func wire() -> [[UInt8]] {
        let lease = Lease(task: "j0123456789:eyes/1", attempt: 2)
        let format = OutputFormat(width: 32, height: 16, fps: Rational(30000, 1001), sampleRate: 48_000, channels: 2)
        let shot = ShotBrief(index: 0, id: "eyes", prompt: "eyes open", camera: "close-up", sound: "hum",
                             cues: [.init(sample: 96_000, sound: "click")], frames: TimeRange(0, 216))
        let image = StillImage(width: 32, height: 16, rgb: [UInt8](repeating: 7, count: 32 * 16 * 3))
        let segment = SegmentTask(
            id: "eyes/1", shot: shot, index: 1, format: format, generate: TimeRange(80, 177), own: TimeRange(97, 177),
            samples: TimeRange(155_844, 283_283), pins: [LatentPin(latentIndex: 0, latents: latents(2))], seed: 123,
            steps: 8, tailLatents: 5, keyframes: [PinnedImage(frame: 120, image: image)], references: [image])
        let (seg, segBlobs) = SegmentDescription.make(segment)
        let anchorTask = AnchorTask(id: "eyes/anchors", shot: shot, format: format, frames: [0, 96, 192],
                                    start: latents(1), seed: 9, steps: 4)
        let (anc, ancBlobs) = AnchorDescription.make(anchorTask)
        let model = ModelDescription(ModelSpec(engine: "testcard", window: 97, overlap: 17, steps: 8, seed: 7, schedule: .chain))
        let digest = OutputDigest(output: "chunk", size: 3, sha256: Digest.sha256(Data([1, 2, 3])), blob: 0)
        let job = JobSummary(id: "j1", title: "t", state: "running", priority: 1, tasksDone: 1, tasksTotal: 2,
                             framesDone: 3, framesTotal: 4, error: nil, filmBytes: 5, runningSeconds: 1.5, etaSeconds: 2)
        let task = TaskSummary(key: "a/0", shot: 0, state: "done", attempts: 1, worker: "w", step: 8, steps: 8, frames: 9,
                               error: nil)
        let attempt = AttemptSummary(key: "a/0", number: 1, worker: "w", outcome: "done")
        let worker = WorkerSummary(id: "w-1", name: "w", state: "idle", engines: ["testcard"], device: "cpu", slots: 2,
                                   busy: 0, tags: ["x"], secondsSinceSeen: 0.25)
        // (payload index in WireInput.payloads, message)
        let seeds: [(Int, WireMessage)] = [
            (0, WireMessage(.hello, Hello(name: "w", engines: ["testcard"], device: "cpu", slots: 2, memoryBytes: 1 << 30,
                                          maxFramePixels: 1 << 20, tags: ["a"], running: [lease]))),
            (1, WireMessage(.welcome, Welcome(workerId: "w-1", heartbeatMillis: 1000, deadAfterMillis: 3000,
                                              maxMessageBytes: 8 << 20, pieceBytes: 1 << 20, drop: [lease]))),
            (2, WireMessage(.heartbeat, Heartbeat(running: [lease]))),
            (3, WireMessage(.assign, Assign(lease: lease, model: model, segment: seg, anchors: nil), blobs: segBlobs)),
            (3, WireMessage(.assign, Assign(lease: lease, model: model, segment: nil, anchors: anc), blobs: ancBlobs)),
            (4, WireMessage(.progress, TaskProgress(lease: lease, step: 3, steps: 8))),
            (5, WireMessage(.resultPart, ResultPart(lease: lease, output: "chunk", offset: 0, total: 3), blobs: [Data([1, 2, 3])])),
            (6, WireMessage(.result, digest)),
            (7, WireMessage(.result, TaskResult(lease: lease, outputs: [digest]), blobs: [Data([1, 2, 3])])),
            (8, WireMessage(.failed, TaskFailed(lease: lease, reason: "engine error", handedBack: true))),
            (9, WireMessage(.cancelTask, CancelTask(lease: lease, reason: "job cancelled"))),
            (10, WireMessage(.bye, Bye(reason: "drained"))),
            (11, WireMessage(.submit, Submit(storyboard: "title: x", source: "x.yaml", priority: 3, baseDirectory: "/tmp"))),
            (12, WireMessage(.fetch, JobQuery(job: "j1", offset: 1 << 20))),
            (13, WireMessage(.filmPart, FilmPart(job: "j1", offset: 0, total: 5), blobs: [Data([0, 0, 0, 1, 2])])),
            (14, WireMessage(.refused, Refusal(kind: .stale, message: "lease is stale", issues: ["x"]))),
            (15, WireMessage(.reply, lease)),
            (16, WireMessage(.reply, model)),
            (17, WireMessage(.reply, FormatDescription(format))),
            (18, WireMessage(.reply, ShotDescription(shot))),
            (19, WireMessage(.reply, seg, blobs: segBlobs)),
            (20, WireMessage(.reply, anc, blobs: ancBlobs)),
            (21, WireMessage(.reply, Submitted(job: "j1", tasks: 3, frames: 100))),
            (22, WireMessage(.reply, job)),
            (23, WireMessage(.reply, task)),
            (24, WireMessage(.reply, attempt)),
            (25, WireMessage(.reply, StatusReport(jobs: [job], shots: ["a"], tasks: [task], attempts: [attempt]))),
            (26, WireMessage(.reply, worker)),
            (27, WireMessage(.reply, WorkersReport(workers: [worker], refused: ["stale": 2]))),
            (28, WireMessage(.reply, Retried(job: "j1", requeuedTasks: 2))),
            (29, WireMessage(.reply, Deleted(job: "j1", removedArtifacts: 3, freedBytes: 4096))),
            (30, WireMessage(.reply, Cancelled(job: "j1", stoppedTasks: 1))),
            (31, WireMessage(command: .status, meta: Data(#"{"a":[1,-2.5e3,true,null,"\u00e9\ud83d\ude00"]}"#.utf8))),
        ]
        return seeds.map { WireInput.encode($0.1, payload: $0.0) }
    }
}
