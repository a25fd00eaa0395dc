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

    /// A tensor from untrusted dimensions and values (a file, the wire), refusing what ``init(shape:values:)`` traps on.
    /// - Throws: ``LatentsError`` when a dimension is negative, the element count (or that of one step) overflows
    ///   or exceeds `maxElements`, or `values` does not hold exactly that many elements.
    public init(validatingShape shape: [Int], values: [Float], maxElements: Int = Int(Int32.max)) throws(LatentsError) {
        guard !shape.isEmpty else { throw LatentsError("tensor has rank 0; needs at least the step axis") }
        if let d = shape.first(where: { $0 < 0 }) { throw LatentsError("tensor shape \(shape) has negative dimension \(d)") }
        guard let step = Self.product(shape.dropFirst(), limit: maxElements) else {
            throw LatentsError("tensor shape \(shape): one step holds more than \(maxElements) elements")
        }
        guard let n = Self.product([shape[0], step], limit: maxElements) else {
            throw LatentsError("tensor shape \(shape) holds more than \(maxElements) elements")
        }
        guard values.count == n else { throw LatentsError("tensor shape \(shape) needs \(n) values, has \(values.count)") }
        self.shape = shape
        self.values = values
    }

    /// The product of `dims` (all non-negative), or nil when it overflows or exceeds `limit`.
    static func product(_ dims: some Sequence<Int>, limit: Int) -> Int? {
        var n = 1
        var zero = false
        for d in dims {
            // A zero anywhere makes the product 0, but later dimensions must still be sane on their own.
            if d == 0 { zero = true; continue }
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, m <= limit else { return nil }
            n = m
        }
        return zero ? 0 : n
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

    /// Latents from untrusted tensors, refusing streams that disagree on the number of steps instead of trapping.
    /// - Throws: ``LatentsError`` naming both step counts.
    public init(validating video: LatentTensor, audio: LatentTensor) throws(LatentsError) {
        guard video.shape.first == audio.shape.first else {
            throw LatentsError("video has \(video.shape.first.map(String.init) ?? "no") steps, "
                               + "audio \(audio.shape.first.map(String.init) ?? "no"): the streams must agree")
        }
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

/// Latents that cannot be accepted (from a file or the wire), with the rule they broke.
public struct LatentsError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
