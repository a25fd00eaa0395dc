import FarmCoordinator
import FarmCore
import FarmMedia
import FarmRender
import FarmTestCard
import FarmTesting
import FarmWire
import Foundation
import Testing

let reelfarm = TestPaths.reelfarm

func temporaryDirectory(_ name: String = "farm") throws -> URL { try TestPaths.temporaryDirectory(name) }

/// Renders `text` on this machine the way `reelfarm render` does: the reference a farm's film must equal.
func localFilm(_ text: String) throws -> Data {
    MediaLog.setLevel(.errors)
    let spec = try JobSpec.parse(text, source: "test")
    let engine = try EngineRegistry.engine(for: spec.model)
    let job = try JobContext(spec: spec, geometry: engine.geometry)
    let out = try temporaryDirectory("local").appendingPathComponent("film.mp4")
    _ = try LocalRenderer(runner: SegmentRunner(engine: engine, encoder: H264ChunkEncoder()), assembler: MP4FilmAssembler(),
                          jobs: 2).render(job, to: out)
    return try Data(contentsOf: out)
}

/// Fetches a finished job's film into `dir` and returns its bytes.
func fetchedFilm(_ client: FarmClient, job: String, into dir: URL) throws -> Data {
    let film = dir.appendingPathComponent("film.mp4")
    _ = try client.fetch(job: job, to: film)
    return try Data(contentsOf: film)
}

/// Polls the job's status until `done` holds or `seconds` pass.
func waitFor(_ client: FarmClient, job: String, seconds: Double = 120,
             until done: (StatusReport) -> Bool = { $0.jobs.first.map { ["done", "failed", "cancelled"].contains($0.state) } ?? false })
    throws -> StatusReport {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if let r = try? client.status(job: job), done(r) { return r }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return try client.status(job: job)
}

/// A coordinator inside the test process, on a free loopback port.
func inProcessCoordinator(_ dir: URL) throws -> (Coordinator, String) {
    MediaLog.setLevel(.errors)
    var config = CoordinatorConfiguration(
        dataDirectory: dir, bind: "tcp://127.0.0.1:*",
        geometry: { model throws(SpecError) in try EngineRegistry.engine(for: model).geometry },
        assembler: MP4FilmAssembler())
    config.images = { spec throws(SpecError) in try StoryboardImages.load(spec) }
    let c = try Coordinator(configuration: config)
    return (c, try c.start())
}

/// A hand-driven peer on the coordinator's socket: sends what a test wants, reads what comes back.
final class RawPeer {
    let zmq = ZMQContext()
    let socket: ZMQSocket
    init(_ endpoint: String) throws {
        socket = try ZMQSocket(zmq, .dealer)
        try socket.connect(endpoint)
    }

    func send(_ m: WireMessage) throws { try socket.send(m.frames) }
    func sendRaw(_ frames: [Data]) throws { try socket.send(frames) }

    /// The next message with one of `commands` (others are skipped), within `seconds`.
    func next(_ commands: Set<Command>, seconds: Double = 10) throws -> WireMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard try socket.poll(milliseconds: 50), let frames = try socket.receive(dontWait: true) else { continue }
            let m = try WireMessage(frames: frames)
            if commands.contains(m.command) { return m }
        }
        return nil
    }
}

let farmStoryboard = Storyboards.threeShots()
