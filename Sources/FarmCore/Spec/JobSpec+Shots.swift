import Foundation
import Yams

extension JobSpec {
    static func readShot(_ node: Node, _ path: String, _ r: inout SpecReader) -> ShotSpec? {
        let keys: Set<String> = ["id", "duration", "frames", "prompt", "camera", "sound", "transition", "cues", "keyframes"]
        guard let m = r.mapping(node, path, allowed: keys) else { return nil }
        let id = r.string(m["id"], "\(path).id", required: true, max: SpecLimits.maxIDCharacters)
        if let id {
            let ok = !id.isEmpty && id.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0))
            }
            if !ok { r.fail("\(path).id", m["id"], "must be letters, digits, '-', '_' or '.' (got \"\(id)\")") }
        }
        var length: ShotLength?
        switch (m["duration"], m["frames"]) {
        case (nil, nil):
            r.fail("\(path).duration", node, "is required (or give frames)")
        case (.some, .some):
            r.fail("\(path).frames", m["frames"], "give duration or frames, not both")
        case (let d?, nil):
            if let v = r.time(d, "\(path).duration") {
                if !v.isPositive {
                    r.fail("\(path).duration", d, "must be > 0 (got \(v))")
                } else if v > SpecLimits.maxShotSeconds {
                    r.fail("\(path).duration", d, "must be at most \(SpecLimits.maxShotSeconds) s (got \(v))")
                } else {
                    length = .seconds(v)
                }
            }
        case (nil, let f?):
            if let v = r.int(f, "\(path).frames") {
                if v <= 0 {
                    r.fail("\(path).frames", f, "must be > 0 (got \(v))")
                } else if v > SpecLimits.maxShotFrames {
                    r.fail("\(path).frames", f, "must be at most \(SpecLimits.maxShotFrames) (got \(v))")
                } else {
                    length = .frames(v)
                }
            }
        }
        let prompt = r.string(m["prompt"], "\(path).prompt", required: true, max: SpecLimits.maxPromptCharacters)
        let camera = r.string(m["camera"], "\(path).camera", required: false, max: 256) ?? ""
        let sound = r.string(m["sound"], "\(path).sound", required: false, max: SpecLimits.maxSoundCharacters) ?? ""
        var transition = Transition.cut
        if let t = r.string(m["transition"], "\(path).transition", required: false, max: 32) {
            if let v = Transition(rawValue: t) { transition = v } else {
                r.fail("\(path).transition", m["transition"], "must be cut or continue (got \"\(t)\")")
            }
        }
        var cues: [SoundCue] = []
        if let node = m["cues"], let list = r.sequence(node, "\(path).cues") {
            if list.count > SpecLimits.maxCuesPerShot {
                r.fail("\(path).cues", node, "must hold at most \(SpecLimits.maxCuesPerShot) cues")
            }
            for (i, item) in list.enumerated() {
                let p = "\(path).cues[\(i)]"
                guard let c = r.mapping(item, p, allowed: ["at", "sound"]) else { continue }
                let at = r.time(c["at"], "\(p).at")
                let s = r.string(c["sound"], "\(p).sound", required: true, max: SpecLimits.maxSoundCharacters)
                if let at, at < Rational(0) { r.fail("\(p).at", c["at"], "must be ≥ 0 (got \(at))") }
                if let at, let s { cues.append(SoundCue(at: at, sound: s)) }
            }
        }
        var keyframes: [Keyframe] = []
        if let node = m["keyframes"], let list = r.sequence(node, "\(path).keyframes") {
            if list.count > SpecLimits.maxKeyframesPerShot {
                r.fail("\(path).keyframes", node, "must hold at most \(SpecLimits.maxKeyframesPerShot) keyframes")
            }
            for (i, item) in list.enumerated() {
                let p = "\(path).keyframes[\(i)]"
                guard let k = r.mapping(item, p, allowed: ["at", "image"]) else { continue }
                let at = r.time(k["at"], "\(p).at")
                let image = r.string(k["image"], "\(p).image", required: true, max: 4096)
                if let at, at < Rational(0) { r.fail("\(p).at", k["at"], "must be ≥ 0 (got \(at))") }
                if let at, let image { keyframes.append(Keyframe(at: at, image: image)) }
            }
        }
        guard let id, let length, let prompt else { return nil }
        return ShotSpec(id: id, length: length, prompt: prompt, camera: camera, sound: sound,
                        transition: transition, cues: cues, keyframes: keyframes)
    }

    /// Rules that span fields: unique ids, total length, times inside their shot, reference files present.
    static func validate(_ spec: JobSpec, baseDirectory: URL?, _ r: inout SpecReader) {
        if spec.shots.count > SpecLimits.maxShots {
            r.fail("shots", nil, "must hold at most \(SpecLimits.maxShots) shots (has \(spec.shots.count))")
        }
        var seen: [String: Int] = [:]
        for (i, shot) in spec.shots.enumerated() {
            if let first = seen[shot.id] {
                r.fail("shots[\(i)].id", nil, "\"\(shot.id)\" is already the id of shots[\(first)]")
            } else {
                seen[shot.id] = i
            }
        }
        if spec.shots.first?.transition == .continue {
            r.fail("shots[0].transition", nil, "the first shot has no previous shot to continue")
        }
        if let i = firstShotOverflowingTimeline(spec) {
            // The rules below need the timeline; computing it would overflow, so stop at this one.
            r.fail("shots[\(i)].duration", nil, "the film's exact running time cannot be computed up to this shot: "
                   + "write durations as simpler fractions (such as 4.5 or 1001/240)")
            return
        }
        let timeline = ShotTimeline(spec)
        let total = timeline.clock.time(ofFrame: timeline.totalFrames)
        if total > SpecLimits.maxFilmSeconds {
            r.fail("shots", nil, "film is \(total.approximation) s, must be at most \(SpecLimits.maxFilmSeconds) s")
        }
        for span in timeline.shots {
            let shot = spec.shots[span.index]
            let seconds = timeline.clock.time(ofFrame: span.frames.upper) - timeline.clock.time(ofFrame: span.frames.lower)
            if span.frames.count == 0 {
                r.fail("shots[\(span.index)].duration", nil, "is shorter than one frame at \(spec.output.fps) fps")
            }
            for (j, cue) in shot.cues.enumerated() where !(cue.at < seconds) {
                r.fail("shots[\(span.index)].cues[\(j)].at", nil, "must be inside the shot (< \(seconds.approximation) s)")
            }
            for (j, key) in shot.keyframes.enumerated() {
                if !(key.at < seconds) {
                    r.fail("shots[\(span.index)].keyframes[\(j)].at", nil, "must be inside the shot (< \(seconds.approximation) s)")
                }
                checkFile(key.image, "shots[\(span.index)].keyframes[\(j)].image", baseDirectory, &r)
            }
        }
        if spec.references.count > SpecLimits.maxGridReferences {
            r.fail("references", nil, "must hold at most \(SpecLimits.maxGridReferences) images (has \(spec.references.count))")
        }
        for (i, path) in spec.references.enumerated() {
            checkFile(path, "references[\(i)]", baseDirectory, &r)
        }
        if let weights = spec.model.weights {
            checkFile(weights, "model.weights", baseDirectory, &r, what: "weights file")
        }
    }

    private static func checkFile(_ path: String, _ field: String, _ base: URL?, _ r: inout SpecReader,
                                  what: String = "image") {
        guard let base else { return }
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)
        if !FileManager.default.isReadableFile(atPath: url.path) {
            r.fail(field, nil, "\(what) \(url.path) does not exist or cannot be read")
        }
    }
}
