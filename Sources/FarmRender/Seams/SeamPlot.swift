import FarmCore
import Foundation

/// The seam report as a picture: picture change (MAD) from each frame to the next, with every join marked (red:
/// inside a shot, judged; blue: a cut; amber: a `continue` transition), the inside p99 (green) and the limit
/// (orange).
public enum SeamPlot {
    /// The plot as a PNG file.
    public static func png(_ report: SeamReport) -> Data {
        let values = report.pictureChange
        let width = min(2_400, max(480, values.count * 2)), height = 320
        let left = 8, right = width - 8, top = 8, bottom = height - 8
        var rgb = [UInt8](repeating: 255, count: width * height * 3)
        func put(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let o = (y * width + x) * 3
            rgb[o] = c.0; rgb[o + 1] = c.1; rgb[o + 2] = c.2
        }
        let limit = report.limit(.pictureMAD)
        let scale = max(values.max() ?? 0, limit, 1e-9) * 1.05
        func y(_ v: Double) -> Int { bottom - Int((v / scale * Double(bottom - top)).rounded()) }
        // Entry i is the change into frame i + 1: place it at that frame.
        let frames = max(report.frames, 1)
        func x(ofFrame f: Int) -> Int { left + Int(Double(f) / Double(frames) * Double(right - left)) }
        for axisX in left ... right { put(axisX, bottom, (0, 0, 0)) }
        for (level, colour) in [(report.insideP99[.pictureMAD] ?? 0, (30, 160, 60)), (limit, (240, 140, 0))] {
            let row = y(level)
            for column in stride(from: left, through: right, by: 2) {
                put(column, row, (UInt8(colour.0), UInt8(colour.1), UInt8(colour.2)))
            }
        }
        for j in report.joins {
            let colour: (UInt8, UInt8, UInt8) = switch j.join.kind {
            case .inShot: j.exceeded.isEmpty ? (220, 30, 30) : (160, 0, 160)
            case .cut: (40, 90, 220)
            case .continue: (220, 170, 0)
            }
            let column = x(ofFrame: j.join.frame)
            let dashed = j.join.kind != .inShot
            for row in top ... bottom where !dashed || (row / 4) % 2 == 0 {
                put(column, row, colour)
                put(column + 1, row, colour)
            }
        }
        // Bars last, so a spike at a join shows over its line.
        for (i, v) in values.enumerated() {
            let column = x(ofFrame: i + 1)
            for row in y(v) ... bottom { put(column, row, (60, 60, 60)) }
        }
        return PNGEncoder.encode(width: width, height: height, rgb: rgb)
    }
}
