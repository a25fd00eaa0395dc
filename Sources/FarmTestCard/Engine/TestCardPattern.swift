import FarmCore

/// What the test card draws and plays, shared by the engine that makes it and the inspector that checks it.
public enum TestCardPattern {
    /// Rows at the top of every frame that carry the global frame number.
    public static let bandRows = 16
    /// Bits of the frame number, most significant leftmost.
    public static let bandBits = 24
    /// Tone level, about −30 dBFS.
    public static let toneAmplitude: Float = 0.0316
    /// Burst level, about −6 dBFS.
    public static let burstAmplitude: Float = 0.5
    public static let burstHertz = 1_000

    /// Samples a burst lasts: 20 ms.
    public static func burstLength(sampleRate: Int) -> Int { sampleRate / 50 }

    /// The tone of shot `index`, in Hz: 220, 275, … 495, repeating.
    public static func toneHertz(shot index: Int) -> Int { 220 + 55 * (index % 6) }

    /// The ball's radius in pixels.
    public static func ballRadius(height: Int) -> Int { max(3, (height - bandRows) / 10) }

    /// The frame whose display interval contains whole second `k`: `floor(k · fps)`.
    public static func flashFrame(second k: Int, clock: SampleClock) -> Int { clock.frame(containing: Rational(k)) }

    /// Whether `frame`'s display interval contains a whole second.
    public static func isFlash(frame: Int, clock: SampleClock) -> Bool {
        // The first whole second at or after the frame's start time: ceil(start).
        let k = -((Rational(0) - clock.time(ofFrame: frame)).floor)
        return flashFrame(second: Int(k), clock: clock) == frame
    }

    /// Frames that flash in a film of `frames` frames, ascending.
    public static func flashFrames(frames: Int, clock: SampleClock) -> [Int] {
        var out: [Int] = []
        var k = 0
        while true {
            let f = flashFrame(second: k, clock: clock)
            if f >= frames { return out }
            out.append(f)
            k += 1
        }
    }

    /// Shot background colour (dark, a different tint per shot).
    static func background(shot index: Int) -> (UInt8, UInt8, UInt8) {
        let tints: [(UInt8, UInt8, UInt8)] = [(24, 28, 52), (48, 22, 26), (20, 44, 30), (44, 40, 20), (34, 24, 50), (22, 40, 46)]
        return tints[index % tints.count]
    }

    static let ball: (UInt8, UInt8, UInt8) = (240, 200, 60)
}
