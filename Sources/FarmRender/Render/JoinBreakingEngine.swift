import FarmCore

/// Wraps an engine and spoils what it makes: the picture inverted, the sound offset by a quarter of full scale.
/// Test-only (``RenderFault/breakJoin``): gives a film a seam at both ends of one segment, whatever the engine.
struct JoinBreakingEngine: Engine {
    let inner: any Engine

    var name: String { inner.name }
    var geometry: EngineGeometry { inner.geometry }

    func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult {
        var result = try inner.generate(task, progress: progress)
        let f = result.frames
        result.frames = VideoFrames(width: f.width, height: f.height, count: f.count, rgb: f.rgb.map { 255 - $0 })
        result.audio.samples = result.audio.samples.map { min(1, $0 + 0.25) }
        return result
    }

    func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents {
        try inner.anchors(task, progress: progress)
    }
}
