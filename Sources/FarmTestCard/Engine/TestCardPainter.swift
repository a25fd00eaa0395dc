import FarmCore

/// Draws test-card frames and plays their samples.
struct TestCardPainter {
    let format: OutputFormat
    let shot: Int
    let radius: Int

    init(format: OutputFormat, shot: Int) {
        self.format = format
        self.shot = shot
        radius = TestCardPattern.ballRadius(height: format.height)
    }

    /// Appends the RGB frame for global frame `frame` with the ball where `state` puts it.
    func draw(frame: Int, state: TestCardState, clock: SampleClock, into frames: inout VideoFrames) {
        let w = format.width, h = format.height, band = TestCardPattern.bandRows
        let flash = TestCardPattern.isFlash(frame: frame, clock: clock)
        let bg = flash ? (UInt8(255), UInt8(255), UInt8(255)) : TestCardPattern.background(shot: shot)
        let cell = w / TestCardPattern.bandBits
        let r = radius
        frames.appendFrame { p in
            // Frame-number band: 24 cells, white = 1, most significant bit leftmost; leftover pixels black.
            for x in 0..<w {
                let bit = cell > 0 ? x / cell : TestCardPattern.bandBits
                let on = bit < TestCardPattern.bandBits && (frame >> (TestCardPattern.bandBits - 1 - bit)) & 1 == 1
                let v: UInt8 = on ? 255 : 0
                p[x * 3] = v; p[x * 3 + 1] = v; p[x * 3 + 2] = v
            }
            for y in 1..<band { Self.copyRow(p, from: 0, to: y, width: w) }
            for x in 0..<w { p[(band * w + x) * 3] = bg.0; p[(band * w + x) * 3 + 1] = bg.1; p[(band * w + x) * 3 + 2] = bg.2 }
            for y in (band + 1)..<h { Self.copyRow(p, from: band, to: y, width: w) }
            guard !flash else { return }
            // The ball: pixels whose centre lies within the radius, in exact 1/16-pixel units.
            let sub = TestCardState.subpixel
            let cx = state.x, cy = state.y, rr = Int64(r) * sub * Int64(r) * sub
            let y0 = max(band, Int(cy / sub) - r - 1), y1 = min(h - 1, Int(cy / sub) + r + 1)
            let x0 = max(0, Int(cx / sub) - r - 1), x1 = min(w - 1, Int(cx / sub) + r + 1)
            guard y0 <= y1, x0 <= x1 else { return }
            for y in y0...y1 {
                let dy = Int64(y) * sub + sub / 2 - cy
                for x in x0...x1 {
                    let dx = Int64(x) * sub + sub / 2 - cx
                    if dx * dx + dy * dy <= rr {
                        let o = (y * w + x) * 3
                        p[o] = TestCardPattern.ball.0; p[o + 1] = TestCardPattern.ball.1; p[o + 2] = TestCardPattern.ball.2
                    }
                }
            }
        }
    }

    private static func copyRow(_ p: UnsafeMutableBufferPointer<UInt8>, from: Int, to: Int, width: Int) {
        let n = width * 3
        UnsafeMutableRawPointer(p.baseAddress! + to * n).copyMemory(from: p.baseAddress! + from * n, byteCount: n)
    }

    /// Appends frame `frame`'s samples: the shot's tone from `phase` plus any second's burst, on every channel.
    func play(frame: Int, phase: UInt32, increment: UInt32, clock: SampleClock, into audio: inout PCMBuffer) {
        let rate = clock.sampleRate
        let first = clock.sample(atFrame: frame), end = clock.sample(atFrame: frame + 1)
        let burst = TestCardPattern.burstLength(sampleRate: rate)
        var ph = phase
        let twoPi = 2 * Float.pi
        for s in first..<end {
            var v = TestCardPattern.toneAmplitude * sinf(twoPi * Float(Double(ph) / 4_294_967_296.0))
            let offset = s % rate
            if offset < burst {
                // Phase of the 1 kHz burst in exact integer turns: offset · 1000 / rate, taken modulo one turn.
                let turns = Double((offset * TestCardPattern.burstHertz) % rate) / Double(rate)
                v += TestCardPattern.burstAmplitude * sinf(twoPi * Float(turns))
            }
            for _ in 0..<audio.channels { audio.samples.append(v) }
            ph = ph &+ increment
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
