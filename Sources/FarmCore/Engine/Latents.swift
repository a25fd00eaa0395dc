/// A dense Float32 tensor, row-major.
public struct LatentTensor: Hashable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]? = nil) {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.values = values ?? [Float](repeating: 0, count: n)
        precondition(self.values.count == n, "LatentTensor: \(self.values.count) values for shape \(shape)")
    }

    /// Elements in one step of the first axis.
    public var stride0: Int { shape.dropFirst().reduce(1, *) }
}

/// Latent frames of both streams over a run of latent time steps.
///
/// `video` is `[T, C, H/stride, W/stride]`; `audio` is `[T, …]` with whatever per-step layout the engine uses
/// (empty trailing size allowed). Index `t` of both streams stands for the same instant.
public struct Latents: Hashable, Sendable {
    public var video: LatentTensor
    public var audio: LatentTensor

    public init(video: LatentTensor, audio: LatentTensor) {
        precondition(video.shape.first == audio.shape.first, "Latents: streams disagree on the number of steps")
        self.video = video
        self.audio = audio
    }

    /// Latent time steps held.
    public var count: Int { video.shape.first ?? 0 }

    /// Steps `range` of both streams.
    public func slice(_ range: Range<Int>) -> Latents {
        func cut(_ t: LatentTensor) -> LatentTensor {
            let s = t.stride0
            return LatentTensor(shape: [range.count] + t.shape.dropFirst(), values: Array(t.values[range.lowerBound * s ..< range.upperBound * s]))
        }
        return Latents(video: cut(video), audio: cut(audio))
    }

    /// Steps of `self` followed by steps of `other` (same per-step layout).
    public func appending(_ other: Latents) -> Latents {
        func join(_ a: LatentTensor, _ b: LatentTensor) -> LatentTensor {
            precondition(Array(a.shape.dropFirst()) == Array(b.shape.dropFirst()), "Latents: layouts differ")
            return LatentTensor(shape: [a.shape[0] + b.shape[0]] + a.shape.dropFirst(), values: a.values + b.values)
        }
        return Latents(video: join(video, other.video), audio: join(audio, other.audio))
    }
}
