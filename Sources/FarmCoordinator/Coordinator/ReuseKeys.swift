import FarmCore
import FarmWire
import Foundation

/// The reuse key of every task of a planned job: a SHA-256 of everything that decides the task's output, so that a
/// later job (a revision of the storyboard, or any job) takes a finished task with the same key instead of running it.
///
/// A key covers:
/// - the engine: name, identity (the version its workers declared: code and weights), configuration, weights name,
///   denoising steps, and the latent grid the job is planned with;
/// - the output format (size, rational fps, sample rate, channels — everything ``OutputFormat`` holds);
/// - the shot as the engine sees it (``ShotBrief``: id, prompt, camera, sound, cues at their global samples, the
///   shot's global frame range) and the shot's keyframes with the digests of their image files;
/// - the task itself (``Segment`` or ``AnchorPass``): its generated and owned frames, its samples, its context
///   and anchor links, its seed, the tail it leaves;
/// - the digests of the grid reference images;
/// - the keys of the tasks whose outputs it takes as context or anchors, so a change upstream changes every key
///   downstream.
///
/// Positions are global: a shot whose start moves (an earlier shot got longer or shorter) gets new keys and runs
/// again. That is what keeps picture and sound sample-exact: at a rational frame rate a frame does not hold a whole
/// number of samples (48 kHz at 30000/1001 fps is 1601.6), so the same frames moved hold other sample counts.
public enum ReuseKeys {
    /// Bumped whenever what a key covers changes; old keys then never match.
    static let scheme = "reelfarm-task-key 1"

    /// Keys by task id (anchor passes and segments).
    /// - Parameters:
    ///   - engineVersion: the identity workers declared for the job's engine (``Hello/versions``), or nil.
    ///   - assets: the digest of each image file the storyboard names, by the path it names it with.
    public static func keys(for job: JobContext, engineVersion: String?, assets: [String: String]) -> [String: String] {
        let spec = job.spec, plan = job.plan
        var common = Canonical()
        common.add("scheme", scheme)
        common.add("engine", spec.model.engine)
        common.add("engine-version", engineVersion ?? "undeclared")
        common.add("config", spec.model.config ?? "-")
        common.add("weights", spec.model.weights ?? "-")
        common.add("steps", String(spec.model.steps))
        common.add("geometry", String(reflecting: plan.geometry))
        common.add("format", String(reflecting: spec.output))
        for path in spec.references { common.add("reference", assets[path] ?? "missing:\(path)") }
        let base = common.text

        var shotText: [String] = []
        for brief in job.briefs {
            var c = Canonical()
            c.add("shot", String(reflecting: brief))
            for k in spec.shots[brief.index].keyframes {
                c.add("keyframe", "\(k.at.numerator)/\(k.at.denominator) \(assets[k.image] ?? "missing:\(k.image)")")
            }
            shotText.append(c.text)
        }

        var keys: [String: String] = [:]
        for pass in plan.anchors {
            var c = Canonical()
            c.add("anchors", String(reflecting: pass.frames))
            c.add("seed", String(pass.seed))
            c.add("id", pass.id)
            if let source = pass.context { c.add("context", keys[source] ?? "missing:\(source)") }
            keys[pass.id] = digest(base, shotText[pass.shot], c.text)
        }
        for s in plan.segments {
            var c = Canonical()
            c.add("segment", s.id)
            c.add("index", String(s.index))
            c.add("generate", "\(s.generate.lower)..<\(s.generate.upper)")
            c.add("own", "\(s.own.lower)..<\(s.own.upper)")
            c.add("samples", "\(s.samples.lower)..<\(s.samples.upper)")
            c.add("seed", String(s.seed))
            c.add("tail", String(s.tailLatents))
            if let link = s.context {
                c.add("context", "\(keys[link.source] ?? "missing:\(link.source)") \(link.frames.lower)..<\(link.frames.upper) \(link.latents)")
            }
            if let link = s.anchors {
                c.add("anchors", "\(keys[link.task] ?? "missing:\(link.task)") \(link.start) \(link.end)")
            }
            keys[s.id] = digest(base, shotText[s.shot], c.text)
        }
        return keys
    }

    private static func digest(_ parts: String...) -> String { Digest.sha256(Data(parts.joined(separator: "\u{1E}").utf8)) }

    /// Lines of `name=value`, each value length-prefixed so no value can forge another line.
    struct Canonical {
        private(set) var text = ""
        mutating func add(_ name: String, _ value: String) { text += "\(name)=\(value.utf8.count):\(value)\n" }
    }
}
