import FarmCore
import FarmTestCard
import Testing

@Suite struct TestCardEngineTests {
    let engine = TestCardEngine()
    let format = OutputFormat(width: 320, height: 192, fps: Rational(24), sampleRate: 48_000, channels: 2)

    func brief(_ frames: TimeRange, shot: Int = 0) -> ShotBrief {
        ShotBrief(index: shot, id: "s\(shot)", prompt: "p", camera: "", sound: "", cues: [], frames: frames)
    }

    func task(_ generate: TimeRange, own: TimeRange? = nil, pins: [LatentPin] = [], seed: UInt64 = 5, tail: Int = 3) -> SegmentTask {
        let own = own ?? generate
        return SegmentTask(id: "t", shot: brief(TimeRange(0, 1000)), index: 0, format: format, generate: generate, own: own,
                           samples: format.clock.samples(forFrames: own), pins: pins, seed: seed, steps: 2, tailLatents: tail)
    }

    /// Reads the frame number from the top band of an RGB frame, the way the band is specified.
    func frameNumber(_ rgb: ArraySlice<UInt8>, width: Int) -> Int {
        let base = rgb.startIndex, cell = width / 24
        var code = 0
        for bit in 0..<24 {
            let x = bit * cell + cell / 2
            code = code << 1 | (rgb[base + (8 * width + x) * 3] > 128 ? 1 : 0)
        }
        return code
    }

    @Test func contextFramesContinueExactly() throws {
        // A generates [0, 21); B takes A's last 9 frames (3 latents) as context and regenerates them.
        let a = try engine.generate(task(TimeRange(0, 21)), progress: { _, _ in })
        let b = try engine.generate(task(TimeRange(12, 33), pins: [LatentPin(latentIndex: 0, latents: a.tail)], seed: 99),
                                    progress: { _, _ in })
        #expect(b.latents.slice(0..<3) == a.tail)
        for f in 12..<21 {
            #expect(b.frames.frame(f - 12) == a.frames.frame(f), "frame \(f) differs between the segments")
        }
        // Sound too: B's samples for the overlapping frames equal A's.
        let clock = format.clock
        let overlap = (clock.sample(atFrame: 12) * 2)..<(clock.sample(atFrame: 21) * 2)
        #expect(Array(b.audio.samples[0..<overlap.count]) == Array(a.audio.samples[overlap]))
    }

    @Test func missingContextStartsElsewhere() throws {
        let a = try engine.generate(task(TimeRange(0, 21)), progress: { _, _ in })
        let b = try engine.generate(task(TimeRange(12, 33), seed: 99), progress: { _, _ in })
        #expect(b.frames.frame(0) != a.frames.frame(12))
    }

    @Test func sameTaskSameBits() throws {
        let t = task(TimeRange(40, 77), own: TimeRange(45, 77))
        #expect(try engine.generate(t, progress: { _, _ in }) == engine.generate(t, progress: { _, _ in }))
    }

    @Test func framesCarryTheirGlobalNumberAndFlashOnWholeSeconds() throws {
        let r = try engine.generate(task(TimeRange(40, 77), own: TimeRange(45, 77)), progress: { _, _ in })
        #expect(r.frames.count == 32)
        for i in 0..<r.frames.count {
            #expect(frameNumber(r.frames.frame(i), width: 320) == 45 + i)
        }
        // Frame 48 contains second 2 at 24 fps: white below the band; frame 47 is not.
        let w = 320, mid = (100 * w + 7) * 3
        #expect(r.frames.frame(48 - 45)[r.frames.frame(48 - 45).startIndex + mid] == 255)
        #expect(r.frames.frame(47 - 45)[r.frames.frame(47 - 45).startIndex + mid] < 100)
    }

    @Test(arguments: [Rational(24), Rational(30000, 1001), Rational(25)], [44_100, 48_000])
    func burstStartsOnTheExactSample(fps: Rational, rate: Int) throws {
        let f = OutputFormat(width: 320, height: 192, fps: fps, sampleRate: rate, channels: 1)
        let own = TimeRange(0, 2 * Int(fps.numerator / fps.denominator) + 3)
        let t = SegmentTask(id: "t", shot: brief(own), index: 0, format: f, generate: TimeRange(0, f.width > 0 ? 1 + 4 * ((own.count + 2) / 4) : 0),
                            own: own, samples: f.clock.samples(forFrames: own), pins: [], seed: 1, steps: 1, tailLatents: 1)
        let x = try engine.generate(t, progress: { _, _ in }).audio.samples
        #expect(x.count == t.samples.count)
        // Just before second 1 only the quiet tone plays; from sample `rate` on the burst rises (1 kHz, 0.5).
        #expect(x[(rate - 200)..<rate].allSatisfy { abs($0) < 0.04 })
        let quarter = rate / 4000
        #expect(abs(x[rate + quarter]) > 0.45)
        #expect(x[(rate + rate / 50 + 5)..<(rate + rate / 50 + 200)].allSatisfy { abs($0) < 0.04 })
    }

    @Test func anchorsAgreeWithTheChain() throws {
        // Stepping frame by frame (anchor pass) and by latents (segment) reach the same state.
        let pass = AnchorTask(id: "a", shot: brief(TimeRange(0, 40)), format: format, frames: [0, 16, 32], start: nil, seed: 5, steps: 1)
        let anchors = try engine.anchors(pass, progress: { _, _ in })
        let seg = try engine.generate(task(TimeRange(0, 33)), progress: { _, _ in })
        #expect(anchors.slice(1..<2) == seg.latents.slice(4..<5))
        #expect(anchors.slice(2..<3) == seg.latents.slice(8..<9))
    }

    @Test func refusesMisalignedWindows() {
        #expect(throws: TestCardEngine.TaskError.self) { try engine.generate(task(TimeRange(0, 20)), progress: { _, _ in }) }
    }
}
