import FarmCore

extension MMDiTEngine {
    /// The anchor pass: one latent step per requested frame, generated together as a sparse clip whose steps sit
    /// at the requested frames' true times, so the model sees how far apart they are.
    ///
    /// More anchors than one window's latent steps are generated in chunks; each later chunk is held at its first
    /// step to the previous chunk's last anchor. `task.start` holds the first anchor.
    public func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents {
        guard let first = task.frames.first, zip(task.frames, task.frames.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw TaskError(description: "\(task.id): anchor frames must be a non-empty ascending list")
        }
        let f = task.format
        let c = model.config
        try checkPicture(f, task.id)
        let perChunk = max(2, geometry.latentCount(forFrames: geometry.maxWindow))
        let (h, w) = (f.height / 8, f.width / 8)
        let sound = SegmentText.sound(task.shot, samples: f.clock.samples(forFrames: TimeRange(first, first + 1)))
        var result: Latents?
        var startAt = 0
        var chunk = 0
        var held = task.start.map { $0.slice($0.count - 1..<$0.count) }
        while startAt < task.frames.count {
            let frames = Array(task.frames[startAt..<min(startAt + perChunk, task.frames.count)])
            let layout = TokenLayout(
                config: c, steps: frames.count, height: h, width: w,
                stepTimes: frames.map { $0 - frames[0] })
            var cond = Conditioning(
                layout: layout, prompt: SegmentText.prompt(task.shot), sound: sound, seed: task.seed,
                segment: -1 - chunk)
            if let held {
                try checkLayout(held, layout, task.id)
                cond.holdVideo(step: 0, latent: held.video.values[...])
                cond.holdAudio(step: 0, latent: held.audio.values[...])
            }
            let sampled = FlowSampler(model: model, steps: max(task.steps, 1)).sample(cond)
            let latents = Latents(
                video: LatentTensor(shape: [frames.count, c.videoChannels, h, w], values: sampled.video),
                audio: LatentTensor(
                    shape: [frames.count, c.audioChannels, c.audioTokensPerStep], values: sampled.audio))
            // A later chunk's first step repeats the previous chunk's last anchor.
            result = result.map { $0.appending(latents.slice(1..<latents.count)) } ?? latents
            held = latents.slice(latents.count - 1..<latents.count)
            startAt += frames.count == task.frames.count - startAt ? frames.count : frames.count - 1
            chunk += 1
            try progress(min(startAt, task.frames.count), task.frames.count)
        }
        return result!
    }
}
