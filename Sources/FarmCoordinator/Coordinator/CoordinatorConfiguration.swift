import FarmCore
import FarmWire
import Foundation

/// How a coordinator runs. Precedence (documented in the README): command-line flag, then environment
/// (`REELFARM_DATA`, `REELFARM_BIND`), then the config file, then these defaults.
public struct CoordinatorConfiguration: Sendable {
    public var dataDirectory: URL
    /// ZeroMQ endpoint to bind, e.g. `tcp://127.0.0.1:7700` (`*` as port picks a free one).
    public var bind: String
    public var heartbeatMillis = 1_000
    /// A worker silent this long is dead and its tasks go back to the queue.
    public var deadAfterMillis = CoordinatorConfiguration.defaultDeadAfterMillis
    public static let defaultDeadAfterMillis = 3_000
    /// How often the coordinator tells each worker it lives (told to the worker in `welcome.beat_millis`; a worker
    /// waits 2.5 periods before it counts the coordinator silent). On a large farm these sends are most of the
    /// coordinator's cost: at 10 s they are a tenth of the workers' own heartbeats (`bench swarm` at 19 744 workers:
    /// 37–41 % of a core at 2 s, 29–31 % at 5 s, 24–25 % at 10 s, measured alternately in one session).
    public var beatMillis = 10_000
    /// While messages keep coming, the loop starts an iteration at most this often (microseconds): what arrives
    /// meanwhile shares one poll, one transaction and one tick. A message after a quiet spell is read at once; 0 reads
    /// each as soon as the last iteration ends. At 19 744 idle workers 5 ms takes the loop from 9–10 % of a core to
    /// 6–7 % against 2 ms; `bench dispatch` does not move (its iterations run longer than either), and a request that
    /// arrives while messages keep coming waits at most this long (a dashboard request never does).
    public var iterationMicros = 5_000
    /// Attempts a task may fail (engine error, worker lost) before its job fails.
    public var maxFailures = 3
    /// Failed tasks of one job after which a worker is not given that job again.
    public var excludeWorkerAfter = 2
    /// Plans storyboards: the latent grid of a built-in engine a storyboard names; `nil` for an engine this build
    /// does not have, which the coordinator plans with the geometry that workers running it declared.
    public var geometry: @Sendable (ModelSpec) throws(SpecError) -> EngineGeometry?
    /// Writes a film from chunks and PCM.
    public var assembler: any FilmAssembler
    /// Decodes a storyboard's keyframe and reference images at the film's size, from the job's stored copies (the
    /// storyboard's path → the file holding its bytes).
    public var images: @Sendable (JobSpec, [String: URL]) throws(SpecError) -> [String: StillImage] = { _, _ in [:] }
    /// Keep a finished job's chunks, PCM and latents (the default: revisions and later jobs reuse its segments); when
    /// false they are deleted once its film is stored, unless another job still refers to them.
    public var keepIntermediates = true
    /// The identity of the engines built into this coordinator's build (reuse keys of jobs for a built-in engine
    /// that no worker has declared yet name it; workers of the same build declare the same).
    public var builtInEngineVersion: String?
    /// CURVE: encrypt the endpoint with this key pair (peers need its public key). `nil`: plain TCP.
    public var curve: CurveKeyPair?
    /// With `curve`, admit only peers whose public key is listed; `nil` admits any peer that knows the server key.
    public var authorizedKeys: Set<String>?
    /// Where the coordinator's log lines go (stderr by default).
    public var log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("reelfarm coordinator: \($0)\n".utf8)) }

    public init(dataDirectory: URL, bind: String, geometry: @escaping @Sendable (ModelSpec) throws(SpecError) -> EngineGeometry?,
                assembler: any FilmAssembler) {
        self.dataDirectory = dataDirectory
        self.bind = bind
        self.geometry = geometry
        self.assembler = assembler
    }
}
