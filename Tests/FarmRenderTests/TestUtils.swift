import FarmCore
import FarmMedia
import FarmRender
import FarmTesting
import Foundation

/// The `reelfarm` executable built next to the test bundle.
let reelfarm: URL = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [dir, dir.deletingLastPathComponent()] {
        let url = candidate.appendingPathComponent("reelfarm")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return dir.appendingPathComponent("reelfarm")
}()

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

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
