/// What the inspector reads off one decoded frame: its frame number, brightness and the ball's centre.
struct FrameProbe: Sendable {
    var code: Int
    /// Mean luma below the frame-number band.
    var mean: Double
    /// Ball centre in pixels, when a ball is visible.
    var ball: (x: Double, y: Double)?

    /// Luma above which a frame-number cell reads as 1 and a pixel counts as ball.
    static let bitThreshold = 128
    static let ballThreshold = 110

    init(width: Int, height: Int, luma: UnsafeBufferPointer<UInt8>) {
        let band = TestCardPattern.bandRows, bits = TestCardPattern.bandBits
        let cell = width / bits
        var code = 0
        for bit in 0..<bits {
            // The middle of the cell, away from the edges the codec blurs.
            let x0 = bit * cell + cell / 4, x1 = max(x0 + 1, (bit + 1) * cell - cell / 4)
            var sum = 0, n = 0
            for y in (band / 4)..<(band * 3 / 4) {
                for x in x0..<x1 { sum += Int(luma[y * width + x]); n += 1 }
            }
            code = code << 1 | (n > 0 && sum / n > Self.bitThreshold ? 1 : 0)
        }
        self.code = code
        var total = 0, count = 0, bx = 0, by = 0, bn = 0
        for y in (band + 2)..<height {
            let row = y * width
            for x in 0..<width {
                let v = Int(luma[row + x])
                total += v
                count += 1
                if v > Self.ballThreshold { bx += x; by += y; bn += 1 }
            }
        }
        mean = count > 0 ? Double(total) / Double(count) : 0
        // A flash fills the frame; only a compact bright region is the ball.
        ball = bn > 0 && bn < count / 4 ? (Double(bx) / Double(bn) + 0.5, Double(by) / Double(bn) + 0.5) : nil
    }
}
