import FarmCore
import Foundation

/// What `reelfarm inspect` found at every segment join of a film, against the same measures inside the segments.
///
/// The rule: a join inside a shot fails when any of its four measures is above `2 × p99 + floor`, where p99 is that
/// measure's 99th percentile over every neighbouring pair inside a segment (pictures) or every sample step and
/// flux window inside a segment (sound), and the floor (``SeamReport/floors``) keeps a film whose inside is nearly
/// still from failing on noise. Joins between shots (cuts and `continue` transitions) are reported, never judged.
public struct SeamReport: Sendable {
    /// One of the four measures.
    public enum Measure: String, CaseIterable, Sendable {
        /// Mean absolute luma difference of the two pictures either side, in levels of 255.
        case pictureMAD = "picture MAD"
        /// 1 − SSIM of the two pictures either side (8×8 blocks of luma).
        case pictureStructure = "picture 1-SSIM"
        /// Largest sample-to-sample step over the channels, full scale 1.
        case soundJump = "sound jump"
        /// Spectral flux of the 1 024 samples either side (0–1).
        case soundFlux = "spectral flux"
    }

    /// Added to twice the inside p99 to make each limit.
    public static let floors: [Measure: Double] = [.pictureMAD: 1.0, .pictureStructure: 0.02, .soundJump: 0.01,
                                                   .soundFlux: 0.05]
    /// How many times the inside p99 a join may reach (before the floor).
    public static let margin = 2.0

    /// One join's figures.
    public struct JoinFigures: Sendable {
        public var join: FilmLayout.Join
        /// Per measure; a measure that cannot be taken there (a flux window past the film's ends) is absent.
        public var values: [Measure: Double]
        /// Measures above their limit (judged joins only).
        public var exceeded: [Measure]
        public var judged: Bool { join.kind == .inShot }
    }

    public var frames: Int
    public var samples: Int
    /// The 99th percentile of each measure inside segments.
    public var insideP99: [Measure: Double]
    /// How many values each percentile was taken over.
    public var insideCounts: [Measure: Int]
    public var joins: [JoinFigures]
    /// Picture MAD from each frame to the next: entry `i` is between frames `i` and `i + 1` (for the plot).
    public var pictureChange: [Double]

    /// `margin × p99 + floor` for `measure`.
    public func limit(_ measure: Measure) -> Double {
        Self.margin * (insideP99[measure] ?? 0) + (Self.floors[measure] ?? 0)
    }

    /// In-shot joins that exceed a limit.
    public var failures: [JoinFigures] { joins.filter { $0.judged && !$0.exceeded.isEmpty } }
    public var passed: Bool { failures.isEmpty }

    /// The printed table.
    public var table: String {
        func f(_ v: Double?) -> String { v.map { String(format: $0 < 10 ? "%.4f" : "%.2f", $0) } ?? "–" }
        let measures = Measure.allCases
        let inShot = joins.filter(\.judged).count
        var lines = ["\(frames) frames, \(samples) samples; \(joins.count) joins: \(inShot) inside shots (judged), "
                     + "\(joins.count - inShot) between shots (reported only)"]
        lines.append(pad("", 34) + measures.map { pad($0.rawValue, 15) }.joined())
        lines.append(pad("inside segments, p99", 34) + measures.map { pad(f(insideP99[$0]), 15) }.joined())
        lines.append(pad("limit (2 × p99 + floor)", 34) + measures.map { pad(f(limit($0)), 15) }.joined())
        lines.append("")
        lines.append(pad("join (frame / sample)", 34) + measures.map { pad($0.rawValue, 15) }.joined() + "verdict")
        for j in joins {
            let name = "\(j.join.before) | \(j.join.after) @ \(j.join.frame) / \(j.join.sample)"
            let verdict = !j.judged ? "\(j.join.kind.rawValue): not judged"
                : j.exceeded.isEmpty ? "ok" : "SEAM (" + j.exceeded.map(\.rawValue).joined(separator: ", ") + ")"
            lines.append(pad(name, 34) + measures.map { pad(f(j.values[$0]), 15) }.joined() + verdict)
        }
        lines.append("")
        let judged = joins.filter(\.judged)
        if !judged.isEmpty {
            let ratios = measures.map { m -> String in
                let worst = judged.compactMap { $0.values[m] }.max() ?? 0
                let p99 = insideP99[m] ?? 0
                return "\(m.rawValue) \(f(worst))" + (p99 > 0 ? String(format: " (×%.2f p99)", worst / p99) : "")
            }
            lines.append("largest in-shot join: " + ratios.joined(separator: ", "))
        }
        lines.append(passed ? "seams: \(inShot) in-shot joins within the limits"
                     : "seams: \(failures.count) of \(inShot) in-shot joins exceed a limit: FAIL")
        return lines.joined(separator: "\n")
    }

    private func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
