import FarmCore
import FarmMedia
import FarmTestCard
import Foundation

/// `reelfarm verify`: decodes a film with libavcodec and checks it as test-card output of `job`.
public enum FilmVerifier {
    /// The verdict on `film`.
    /// - Throws: when the file cannot be opened or decoded at all (a film that decodes but is wrong is a failed
    ///   report, not an error).
    public static func verify(film: URL, job: JobContext) throws -> VerifyReport {
        var inspector = TestCardInspector(job: job)
        let decoded = try FilmDecoder(url: film).decode { frame in
            frame.luma.withUnsafeBufferPointer { inspector.add(width: frame.width, height: frame.height, luma: $0) }
        }
        let format = job.spec.output
        var checks: [VerifyReport.Check] = []
        let streamsOK = decoded.videoCodec == "h264" && decoded.audioCodec == "aac"
            && decoded.width == format.width && decoded.height == format.height
            && decoded.sampleRate == format.sampleRate && decoded.channels == format.channels
        checks.append(VerifyReport.Check(
            name: "streams", passed: streamsOK,
            detail: "\(decoded.videoCodec) \(decoded.width)×\(decoded.height) @ \(decoded.averageFPS) fps, "
                + "\(decoded.audioCodec ?? "no audio") \(decoded.sampleRate) Hz × \(decoded.channels)"
                + (streamsOK ? "" : " (expected h264 \(format.width)×\(format.height), aac \(format.sampleRate) Hz × \(format.channels))")))
        let audio = decoded.audio ?? PCMBuffer(channels: max(1, format.channels))
        let report = inspector.report(.init(audio: audio, sampleRate: decoded.sampleRate > 0 ? decoded.sampleRate : format.sampleRate,
                                            videoDuration: decoded.videoDuration))
        let engine = job.spec.model.engine
        guard engine != testCardEngine else { return VerifyReport(checks: checks + report.checks) }
        // Another engine's picture and sound carry no frame numbers, flashes or bursts: only the stream layout and
        // the durations can be held against the storyboard.
        let reason = "test-card check; not applicable to engine \(engine)"
        return VerifyReport(checks: checks + report.checks.map {
            Self.anyEngineChecks.contains($0.name) ? $0 : $0.notApplicable(reason)
        })
    }

    /// The engine whose films carry the patterns most checks read.
    static let testCardEngine = "testcard"

    /// Checks that hold for a film of any engine.
    public static let anyEngineChecks: Set<String> = ["streams", "durations"]
}
