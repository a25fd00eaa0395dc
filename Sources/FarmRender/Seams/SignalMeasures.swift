import Foundation

/// The change measures the seam report takes between neighbouring pictures and around a point of the sound.
enum SignalMeasures {
    /// Mean absolute difference of two luma planes of equal size, in luma levels (0–255).
    static func meanAbsoluteDifference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return 0 }
        var sum = 0
        for i in a.indices { sum += abs(Int(a[i]) - Int(b[i])) }
        return Double(sum) / Double(a.count)
    }

    /// 1 − SSIM of two luma planes: SSIM (Wang et al. 2004, C1 = (0.01·255)², C2 = (0.03·255)²) on 8×8 blocks that
    /// do not overlap, averaged; 0 for identical pictures, up to 2 for opposite structure.
    static func structuralChange(_ a: [UInt8], _ b: [UInt8], width: Int, height: Int) -> Double {
        guard a.count == b.count, a.count == width * height, width >= 8, height >= 8 else { return 0 }
        let c1 = 6.5025, c2 = 58.5225
        var total = 0.0, blocks = 0
        for by in stride(from: 0, through: height - 8, by: 8) {
            for bx in stride(from: 0, through: width - 8, by: 8) {
                var sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0
                for y in by ..< by + 8 {
                    let row = y * width
                    for x in bx ..< bx + 8 {
                        let p = Int(a[row + x]), q = Int(b[row + x])
                        sa += p; sb += q; saa += p * p; sbb += q * q; sab += p * q
                    }
                }
                let n = 64.0
                let ma = Double(sa) / n, mb = Double(sb) / n
                let va = Double(saa) / n - ma * ma, vb = Double(sbb) / n - mb * mb, cov = Double(sab) / n - ma * mb
                total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
                blocks += 1
            }
        }
        return blocks == 0 ? 0 : 1 - total / Double(blocks)
    }

    /// Samples in each window of the spectral flux.
    static let fluxWindow = 1_024

    /// Spectral flux at sample `at` of `mono`: half the L1 distance between the normalized magnitude spectra of the
    /// Hann-windowed ``fluxWindow`` samples before and after it (0: same spectrum shape, 1: disjoint). `nil` when
    /// either window leaves `range`.
    static func spectralFlux(_ mono: [Float], at: Int, within range: Range<Int>) -> Double? {
        let n = fluxWindow
        guard at - n >= range.lowerBound, at + n <= range.upperBound, at - n >= 0, at + n <= mono.count else {
            return nil
        }
        let before = spectrum(mono, from: at - n), after = spectrum(mono, from: at)
        let sa = before.reduce(0, +), sb = after.reduce(0, +)
        guard sa > 1e-12, sb > 1e-12 else { return sa > 1e-12 || sb > 1e-12 ? 1 : 0 }
        var d = 0.0
        for k in before.indices { d += abs(before[k] / sa - after[k] / sb) }
        return d / 2
    }

    private static let hann: [Double] = (0 ..< fluxWindow).map {
        0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(fluxWindow))
    }

    /// Magnitudes of bins 0 … n/2 of the Hann-windowed `fluxWindow` samples from `start`.
    private static func spectrum(_ x: [Float], from start: Int) -> [Double] {
        let n = fluxWindow
        var re = (0 ..< n).map { Double(x[start + $0]) * hann[$0] }
        var im = [Double](repeating: 0, count: n)
        fft(&re, &im)
        return (0 ... n / 2).map { (re[$0] * re[$0] + im[$0] * im[$0]).squareRoot() }
    }

    /// In-place iterative radix-2 FFT; `re.count` must be a power of two.
    static func fft(_ re: inout [Double], _ im: inout [Double]) {
        let n = re.count
        var j = 0
        for i in 1 ..< n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        var len = 2
        while len <= n {
            let angle = -2 * Double.pi / Double(len)
            for start in stride(from: 0, to: n, by: len) {
                for k in 0 ..< len / 2 {
                    let wr = cos(angle * Double(k)), wi = sin(angle * Double(k))
                    let a = start + k, b = a + len / 2
                    let tr = re[b] * wr - im[b] * wi, ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr; im[b] = im[a] - ti
                    re[a] += tr; im[a] += ti
                }
            }
            len <<= 1
        }
    }

    /// The value at or below which `fraction` of `values` lie (nearest rank); 0 for none.
    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[max(0, min(sorted.count - 1, rank))]
    }
}

/// A percentile of many values in [0, `top`] kept as a histogram, for the sound's millions of sample steps.
struct HistogramPercentile {
    let top: Double
    private(set) var bins: [Int]
    private(set) var count = 0

    init(top: Double, bins: Int) {
        self.top = top
        self.bins = [Int](repeating: 0, count: bins)
    }

    mutating func add(_ v: Double) {
        let i = Int((max(0, v) / top * Double(bins.count)).rounded(.down))
        bins[min(bins.count - 1, i)] += 1
        count += 1
    }

    /// The upper edge of the bin where the cumulative count first reaches `fraction` of all values.
    func value(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        let need = Int((fraction * Double(count)).rounded(.up))
        var seen = 0
        for (i, c) in bins.enumerated() {
            seen += c
            if seen >= need { return Double(i + 1) / Double(bins.count) * top }
        }
        return top
    }
}
