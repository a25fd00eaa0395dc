import FarmCore
import FarmMedia
import FarmRender
import FarmTesting
import Foundation

let reelfarm = TestPaths.reelfarm

func temporaryDirectory() throws -> URL { try TestPaths.temporaryDirectory("render") }

/// Renders `text` in this process with the real encoder and muxer.
func renderInProcess(_ text: String, to url: URL, faults: Set<RenderFault> = [], jobs: Int = 2) throws -> JobContext {
    MediaLog.setLevel(.errors)
    let spec = try JobSpec.parse(text, source: "test")
    let engine = try EngineRegistry.engine(for: spec.model)
    let job = try JobContext(spec: spec, geometry: engine.geometry)
    let renderer = LocalRenderer(runner: SegmentRunner(engine: engine, encoder: H264ChunkEncoder()),
                                 assembler: MP4FilmAssembler(), jobs: jobs, faults: faults)
    _ = try renderer.render(job, to: url)
    return job
}
