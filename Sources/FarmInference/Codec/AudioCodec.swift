import Foundation

/// Audio latents ↔ PCM: a learned projection per latent to a short stereo frame, overlap-added.
///
/// Latent `k` projects to `P` points per channel (`D·z + b`) spread over two latents' time, `[k, k+2)`, under a
/// `sin²(πx/2)` window; consecutive windows overlap by half and sum to one. The signal is evaluated at each
/// sample's exact place on the latent axis (see ``AudioTimeline``), so any sample rate and any frame rate work;
/// values are clamped to [-1, 1]. Film channels take the stereo pair in turn (mono takes the mean). The encoder
/// reads `P` points of the signal over the same span and applies the least-squares inverse of the projection.
public struct AudioCodec: @unchecked Sendable {
    public let config: MMDiTConfig
    let decode: Linear
    let encode: Linear

    public init(weights: ModelWeights) {
        config = weights.config
        decode = Linear(weights, "codec.audio.decode")
        encode = Linear(weights, "codec.audio.encode")
    }

    var points: Int { config.audioWindowPoints }

    /// Interleaved PCM of `channels` for local samples `samples`, from `latents` (`[T, Ca, A]`).
    public func decode(
        _ latents: [Float], steps: Int, timeline: AudioTimeline, samples: Range<Int>, channels: Int
    ) -> [Float] {
        let (ca, a, p) = (config.audioChannels, config.audioTokensPerStep, points)
        let count = steps * a
        precondition(latents.count == count * ca, "AudioCodec: \(latents.count) latents for \(steps) steps")
        let z = FloatBuffer(count: count * ca)
        let frames = FloatBuffer(count: count * 2 * p)
        for j in 0..<steps {
            for ch in 0..<ca { for i in 0..<a { z.base[(j * a + i) * ca + ch] = latents[(j * ca + ch) * a + i] } }
        }
        decode.apply(z.base, rows: count, into: frames.base)
        var out = [Float](repeating: 0, count: samples.count * channels)
        for (n, s) in samples.enumerated() {
            let (k0, phase) = timeline.coordinate(ofSample: s)
            var stereo: (Float, Float) = (0, 0)
            // The latent whose window starts here, and the one before it, half-way through its window.
            var (k, x) = (k0, phase)
            for _ in 0..<2 {
                if k >= 0 && k < count {
                    let sine = Foundation.sin(Double.pi * x / 2)
                    let w = Float(sine * sine)
                    let f = frames.base + k * 2 * p
                    stereo.0 += w * Self.interpolate(f, points: p, at: x)
                    stereo.1 += w * Self.interpolate(f + p, points: p, at: x)
                }
                (k, x) = (k - 1, x + 1)
            }
            let l = Swift.min(Swift.max(stereo.0, -1), 1)
            let r = Swift.min(Swift.max(stereo.1, -1), 1)
            for c in 0..<channels { out[n * channels + c] = channels == 1 ? (l + r) / 2 : (c % 2 == 0 ? l : r) }
        }
        return out
    }

    /// Value of a `points`-point frame spread over [0, 2) at `x` (points at their cell centres, linear between).
    static func interpolate(_ f: UnsafePointer<Float>, points: Int, at x: Double) -> Float {
        let pos = Swift.min(Swift.max(x * Double(points) / 2 - 0.5, 0), Double(points - 1))
        let i = Int(pos)
        let t = Float(pos - Double(i))
        return i + 1 < points ? f[i] * (1 - t) + f[i + 1] * t : f[i]
    }

    /// Latents (`[T, Ca, A]`) of interleaved PCM whose local sample 0 is `pcm[0]`.
    public func encode(pcm: [Float], channels: Int, steps: Int, timeline: AudioTimeline) -> [Float] {
        let (ca, a, p) = (config.audioChannels, config.audioTokensPerStep, points)
        let count = steps * a
        let frames = pcm.count / channels
        let windows = FloatBuffer(count: count * 2 * p)
        let z = FloatBuffer(count: count * ca)
        func value(_ i: Int, _ side: Int) -> Float {
            guard i >= 0 && i < frames else { return 0 }
            if channels == 1 { return pcm[i] }
            return pcm[i * channels + side]
        }
        for k in 0..<count {
            for q in 0..<p {
                // Point q of latent k sits at coordinate k + (2q + 1)/p.
                let (i, t) = timeline.samplePosition(ofCoordinate: Int64(k * p + 2 * q + 1), over: Int64(p))
                for side in 0..<2 {
                    windows.base[k * 2 * p + side * p + q] =
                        value(i, side) * Float(1 - t) + value(i + 1, side) * Float(t)
                }
            }
        }
        encode.apply(windows.base, rows: count, into: z.base)
        var out = [Float](repeating: 0, count: count * ca)
        for j in 0..<steps {
            for ch in 0..<ca { for i in 0..<a { out[(j * ca + ch) * a + i] = z.base[(j * a + i) * ca + ch] } }
        }
        return out
    }
}
