import FarmCore
import Foundation

/// The model a task runs with (the storyboard's `model` minus scheduling).
public struct ModelDescription: Codable, Sendable, Equatable {
    public var engine: String
    public var config: String?
    public var weights: String?
    public var seed: UInt64
    public var steps: Int
    public init(_ m: ModelSpec) {
        engine = m.engine
        config = m.config
        weights = m.weights
        seed = m.seed
        steps = m.steps
    }

    /// As a `ModelSpec` for an engine factory (window, overlap and schedule do not matter to an engine).
    public var spec: ModelSpec {
        ModelSpec(engine: engine, window: 1, overlap: 0, steps: steps, seed: seed, schedule: .chain, config: config, weights: weights)
    }
}

/// A pinned run of latent steps; its latents are blob `blob` of the message (``LatentsCodec`` bytes).
public struct PinDescription: Codable, Sendable, Equatable {
    public var latentIndex: Int
    public var blob: Int
}

/// The output format on the wire; fps as `"30000/1001"`.
public struct FormatDescription: Codable, Sendable, Equatable {
    public var width: Int, height: Int, fps: String, sampleRate: Int, channels: Int
    public init(_ f: OutputFormat) {
        width = f.width
        height = f.height
        fps = f.fps.description
        sampleRate = f.sampleRate
        channels = f.channels
    }

    public func format() throws(WireError) -> OutputFormat {
        guard let r = Rational(parsing: fps), r.isPositive, width > 0, height > 0, sampleRate > 0, channels > 0 else {
            throw WireError(.badPayload, "format \(width)x\(height) @ \(fps), \(sampleRate) Hz × \(channels) is not valid")
        }
        return OutputFormat(width: width, height: height, fps: r, sampleRate: sampleRate, channels: channels)
    }
}

/// A shot brief on the wire.
public struct ShotDescription: Codable, Sendable, Equatable {
    public var index: Int, id: String, prompt: String, camera: String, sound: String
    public var cues: [CueDescription]
    public var frames: [Int]
    public struct CueDescription: Codable, Sendable, Equatable {
        public var sample: Int, sound: String
    }

    public init(_ b: ShotBrief) {
        index = b.index
        id = b.id
        prompt = b.prompt
        camera = b.camera
        sound = b.sound
        cues = b.cues.map { CueDescription(sample: $0.sample, sound: $0.sound) }
        frames = [b.frames.lower, b.frames.upper]
    }

    public func brief() throws(WireError) -> ShotBrief {
        guard frames.count == 2, frames[0] >= 0, frames[0] <= frames[1], frames[1] <= WireBounds.maxFrame else {
            throw WireError(.badPayload, "shot frames \(frames) is not a range inside [0, \(WireBounds.maxFrame)]")
        }
        return ShotBrief(index: index, id: id, prompt: prompt, camera: camera, sound: sound,
                         cues: cues.map { ShotBrief.Cue(sample: $0.sample, sound: $0.sound) },
                         frames: TimeRange(frames[0], frames[1]))
    }
}

/// A ``SegmentTask`` on the wire; pins are blobs.
public struct SegmentDescription: Codable, Sendable, Equatable {
    public var id: String, index: Int
    public var shot: ShotDescription
    public var format: FormatDescription
    public var generate: [Int], own: [Int], samples: [Int]
    public var pins: [PinDescription]
    public var seed: UInt64, steps: Int, tailLatents: Int
    /// Keyframe images: the global frame and the blob holding its RGB24 at the film's size.
    public var keyframes: [KeyframeDescription]
    /// Grid references: blobs holding RGB24 at the film's size.
    public var references: [Int]

    public struct KeyframeDescription: Codable, Sendable, Equatable {
        public var frame: Int
        public var blob: Int
    }

    /// The description and the blobs carrying its pins, keyframes and references (in that order).
    public static func make(_ t: SegmentTask) -> (SegmentDescription, [Data]) {
        var blobs = t.pins.map { LatentsCodec.encode($0.latents) }
        var keyframes: [KeyframeDescription] = []
        for k in t.keyframes {
            keyframes.append(KeyframeDescription(frame: k.frame, blob: blobs.count))
            blobs.append(Data(k.image.rgb))
        }
        var references: [Int] = []
        for r in t.references {
            references.append(blobs.count)
            blobs.append(Data(r.rgb))
        }
        let d = SegmentDescription(
            id: t.id, index: t.index, shot: ShotDescription(t.shot), format: FormatDescription(t.format),
            generate: [t.generate.lower, t.generate.upper], own: [t.own.lower, t.own.upper],
            samples: [t.samples.lower, t.samples.upper],
            pins: t.pins.indices.map { PinDescription(latentIndex: t.pins[$0].latentIndex, blob: $0) },
            seed: t.seed, steps: t.steps, tailLatents: t.tailLatents, keyframes: keyframes, references: references)
        return (d, blobs)
    }

    /// The engine task, with pins decoded from `blobs`.
    public func task(blobs: [Data]) throws(WireError) -> SegmentTask {
        func range(_ a: [Int], _ name: String, limit: Int = WireBounds.maxFrame) throws(WireError) -> TimeRange {
            guard a.count == 2, a[0] >= 0, a[0] <= a[1], a[1] <= limit else {
                throw WireError(.badPayload, "\(name) \(a) is not a half-open range inside [0, \(limit)]")
            }
            return TimeRange(a[0], a[1])
        }
        try WireBounds.check(steps: steps, tailLatents: tailLatents, frames: keyframes.map(\.frame))
        var pins: [LatentPin] = []
        for p in self.pins {
            guard (0 ... WireBounds.maxFrame).contains(p.latentIndex) else {
                throw WireError(.badPayload, "pin latent index \(p.latentIndex) is outside [0, \(WireBounds.maxFrame)]")
            }
            guard blobs.indices.contains(p.blob) else { throw WireError(.badPayload, "pin refers to missing blob \(p.blob)") }
            do {
                pins.append(LatentPin(latentIndex: p.latentIndex, latents: try LatentsCodec.decode(blobs[p.blob])))
            } catch {
                throw WireError(.badPayload, "pin blob \(p.blob): \(error)")
            }
        }
        let f = try format.format()
        // Checked: a hostile width × height must not overflow (the sizes are otherwise only required positive).
        let (pixels, o1) = f.width.multipliedReportingOverflow(by: f.height)
        let (imageBytes, o2) = pixels.multipliedReportingOverflow(by: 3)
        let imageSize = o1 || o2 ? -1 : imageBytes
        func image(_ blob: Int, _ what: String) throws(WireError) -> StillImage {
            guard blobs.indices.contains(blob), blobs[blob].count == imageSize else {
                throw WireError(.badPayload, "\(what) blob \(blob) is missing or not \(f.width)×\(f.height) RGB24")
            }
            return StillImage(width: f.width, height: f.height, rgb: [UInt8](blobs[blob]))
        }
        var stills: [PinnedImage] = []
        for k in keyframes { stills.append(PinnedImage(frame: k.frame, image: try image(k.blob, "keyframe"))) }
        var grid: [StillImage] = []
        for r in references { grid.append(try image(r, "reference")) }
        return SegmentTask(id: id, shot: try shot.brief(), index: index, format: f,
                           generate: try range(generate, "generate"), own: try range(own, "own"),
                           samples: try range(samples, "samples", limit: WireBounds.maxSample), pins: pins, seed: seed, steps: steps,
                           tailLatents: tailLatents, keyframes: stills, references: grid)
    }
}

/// An ``AnchorTask`` on the wire; the optional start pin is blob 0.
public struct AnchorDescription: Codable, Sendable, Equatable {
    public var id: String
    public var shot: ShotDescription
    public var format: FormatDescription
    public var frames: [Int]
    public var hasStart: Bool
    public var seed: UInt64, steps: Int

    public static func make(_ t: AnchorTask) -> (AnchorDescription, [Data]) {
        (AnchorDescription(id: t.id, shot: ShotDescription(t.shot), format: FormatDescription(t.format), frames: t.frames,
                           hasStart: t.start != nil, seed: t.seed, steps: t.steps),
         t.start.map { [LatentsCodec.encode($0)] } ?? [])
    }

    public func task(blobs: [Data]) throws(WireError) -> AnchorTask {
        var start: Latents?
        if hasStart {
            guard let b = blobs.first else { throw WireError(.badPayload, "anchor start pin blob missing") }
            do { start = try LatentsCodec.decode(b) } catch { throw WireError(.badPayload, "anchor start: \(error)") }
        }
        try WireBounds.check(steps: steps, tailLatents: 0, frames: frames)
        return AnchorTask(id: id, shot: try shot.brief(), format: try format.format(), frames: frames, start: start,
                          seed: seed, steps: steps)
    }
}

/// Bounds on the numbers of a task description, so that engines can do arithmetic on them without overflow: a
/// film is at most 4 h at 240 fps (3 456 000 frames) and 192 kHz (2.8 · 10⁹ samples); these leave ample room.
enum WireBounds {
    static let maxFrame = 1 << 31
    static let maxSample = 1 << 40

    static func check(steps: Int, tailLatents: Int, frames: [Int]) throws(WireError) {
        guard (0 ... SpecLimits.steps.upperBound).contains(steps) else {
            throw WireError(.badPayload, "steps \(steps) is outside [0, \(SpecLimits.steps.upperBound)]")
        }
        guard (0 ... maxFrame).contains(tailLatents) else {
            throw WireError(.badPayload, "tail_latents \(tailLatents) is outside [0, \(maxFrame)]")
        }
        if let f = frames.first(where: { !(0 ... maxFrame).contains($0) }) {
            throw WireError(.badPayload, "frame \(f) is outside [0, \(maxFrame)]")
        }
    }
}
