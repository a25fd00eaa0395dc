import FarmCore
import FarmMedia
import Foundation

/// `reelfarm inspect`: decodes a film of any engine and measures the change in picture and sound at every segment
/// join against the same change inside segments (``SeamReport``). It needs only the MP4 and the plan.
public enum SeamInspector {
    /// Why a film cannot be inspected against a plan.
    public struct Mismatch: Error, CustomStringConvertible {
        public var description: String
    }

    /// Measures `film` at the joins of `layout`.
    /// - Throws: ``Mismatch`` when the film's length or sound format is not the layout's; decoding errors.
    public static func inspect(film: URL, layout: FilmLayout, format: OutputFormat) throws -> SeamReport {
        var previous: [UInt8] = []
        var mad: [Double] = [], structure: [Double] = []
        let decoded = try FilmDecoder(url: film).decode { frame in
            if !previous.isEmpty {
                mad.append(SignalMeasures.meanAbsoluteDifference(previous, frame.luma))
                structure.append(SignalMeasures.structuralChange(previous, frame.luma, width: frame.width,
                                                                 height: frame.height))
            }
            previous = frame.luma
        }
        if let problem = layout.mismatch(frames: decoded.frameCount, samples: decoded.audioSampleCount,
                                         sampleRate: decoded.sampleRate, channels: decoded.channels, format: format) {
            throw Mismatch(description: problem)
        }
        let audio = decoded.audio ?? PCMBuffer(channels: max(1, format.channels))
        let channels = audio.channels
        let x = audio.samples
        func jump(at s: Int) -> Double {
            var m: Float = 0
            for c in 0 ..< channels { m = max(m, abs(x[s * channels + c] - x[(s - 1) * channels + c])) }
            return Double(m)
        }
        var mono = [Float](repeating: 0, count: layout.totalSamples)
        for s in 0 ..< layout.totalSamples {
            var v: Float = 0
            for c in 0 ..< channels { v += x[s * channels + c] }
            mono[s] = v / Float(channels)
        }

        // Inside: pairs of pictures, sample steps and flux windows that lie within one piece.
        var insideMAD: [Double] = [], insideStructure: [Double] = [], insideFlux: [Double] = []
        var jumps = HistogramPercentile(top: 2, bins: 8_192)
        for piece in layout.pieces {
            for f in piece.frames.lower + 1 ..< max(piece.frames.lower + 1, piece.frames.upper) {
                insideMAD.append(mad[f - 1])
                insideStructure.append(structure[f - 1])
            }
            for s in piece.samples.lower + 1 ..< max(piece.samples.lower + 1, piece.samples.upper) {
                jumps.add(jump(at: s))
            }
            let range = piece.samples.lower ..< piece.samples.upper
            var p = piece.samples.lower + SignalMeasures.fluxWindow
            while let v = SignalMeasures.spectralFlux(mono, at: p, within: range) {
                insideFlux.append(v)
                p += SignalMeasures.fluxWindow
            }
        }
        var report = SeamReport(
            frames: layout.totalFrames, samples: layout.totalSamples,
            insideP99: [.pictureMAD: SignalMeasures.percentile(insideMAD, 0.99),
                        .pictureStructure: SignalMeasures.percentile(insideStructure, 0.99),
                        .soundJump: jumps.value(0.99), .soundFlux: SignalMeasures.percentile(insideFlux, 0.99)],
            insideCounts: [.pictureMAD: insideMAD.count, .pictureStructure: insideStructure.count,
                           .soundJump: jumps.count, .soundFlux: insideFlux.count],
            joins: [], pictureChange: mad)
        let whole = 0 ..< layout.totalSamples
        report.joins = layout.joins.map { join in
            var values: [SeamReport.Measure: Double] = [
                .pictureMAD: mad[join.frame - 1], .pictureStructure: structure[join.frame - 1],
            ]
            if join.sample > 0, join.sample < layout.totalSamples { values[.soundJump] = jump(at: join.sample) }
            values[.soundFlux] = SignalMeasures.spectralFlux(mono, at: join.sample, within: whole)
            var figures = SeamReport.JoinFigures(join: join, values: values, exceeded: [])
            if figures.judged {
                figures.exceeded = SeamReport.Measure.allCases.filter { m in
                    values[m].map { $0 > report.limit(m) } ?? false
                }
            }
            return figures
        }
        return report
    }
}
