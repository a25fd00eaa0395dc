import FarmCore

/// Checks a decoded test-card film against its plan: frame numbers, flashes, bursts, durations and continuity
/// at every join. Feed it frames in presentation order, then the audio.
public struct TestCardInspector: Sendable {
    let job: JobContext
    var probes: [FrameProbe] = []

    public init(job: JobContext) { self.job = job }

    /// Reads one decoded frame's luma plane (`width · height` bytes, no padding).
    public mutating func add(width: Int, height: Int, luma: UnsafeBufferPointer<UInt8>) {
        probes.append(FrameProbe(width: width, height: height, luma: luma))
    }

    /// Decoded facts about the film besides its frames.
    public struct Media: Sendable {
        /// Decoded PCM, interleaved, encoder priming removed.
        public var audio: PCMBuffer
        public var sampleRate: Int
        /// Container-level video duration, seconds.
        public var videoDuration: Rational
        public init(audio: PCMBuffer, sampleRate: Int, videoDuration: Rational) {
            self.audio = audio
            self.sampleRate = sampleRate
            self.videoDuration = videoDuration
        }
    }

    /// Runs every check.
    public func report(_ media: Media) -> VerifyReport {
        let plan = job.plan
        let clock = plan.format.clock
        var mono = [Float](repeating: 0, count: media.audio.frameCount)
        for i in 0..<mono.count { mono[i] = media.audio.samples[i * media.audio.channels] }
        var checks: [VerifyReport.Check] = []
        checks.append(frameNumbers())
        checks.append(flashes(clock))
        checks.append(bursts(mono, clock: clock, rate: media.sampleRate))
        checks.append(durations(media, clock: clock))
        checks += joins(mono, clock: clock)
        return VerifyReport(checks: checks)
    }

    func frameNumbers() -> VerifyReport.Check {
        let expected = job.plan.totalFrames
        var problems: [String] = []
        if probes.count != expected { problems.append("\(probes.count) frames decoded, \(expected) planned") }
        for (i, p) in probes.enumerated() where p.code != i {
            problems.append("frame \(i) shows number \(p.code)")
            if problems.count >= 5 { break }
        }
        return VerifyReport.Check(name: "frame numbers", passed: problems.isEmpty,
                                  detail: problems.isEmpty ? "\(expected) frames, each number once, in order"
                                      : problems.joined(separator: "; "))
    }

    func flashes(_ clock: SampleClock) -> VerifyReport.Check {
        let flashSet = Set(TestCardPattern.flashFrames(frames: probes.count, clock: clock))
        var wrong: [String] = []
        var darkest = 255.0, brightest = 0.0
        for (i, p) in probes.enumerated() {
            if flashSet.contains(i) {
                darkest = min(darkest, p.mean)
                if p.mean < 180 { wrong.append("frame \(i) should flash (mean luma \(Int(p.mean)))") }
            } else {
                brightest = max(brightest, p.mean)
                if p.mean > 120 { wrong.append("frame \(i) flashes but should not (mean luma \(Int(p.mean)))") }
            }
            if wrong.count >= 5 { break }
        }
        let detail = wrong.isEmpty
            ? "\(flashSet.count) flashes on their frames (flash luma ≥ \(Int(darkest)), others ≤ \(Int(brightest)))"
            : wrong.joined(separator: "; ")
        return VerifyReport.Check(name: "flashes", passed: wrong.isEmpty, detail: detail)
    }

    func bursts(_ x: [Float], clock: SampleClock, rate: Int) -> VerifyReport.Check {
        let length = TestCardPattern.burstLength(sampleRate: rate)
        let window = rate / 40  // search ±25 ms around each second
        let level = TestCardPattern.burstAmplitude / 2
        // A sine of amplitude A first exceeds A/2 a twelfth of a period after it starts.
        let lead = Double(rate) / Double(TestCardPattern.burstHertz) / 12
        var worst = 0.0, count = 0
        var problems: [String] = []
        var k = 0
        while k * rate + length <= job.plan.totalSamples {
            let start = k * rate
            let lo = max(0, start - window), hi = min(x.count, start + window)
            if let n = (lo..<hi).first(where: { abs(x[$0]) > level }) {
                let error = (Double(n) - lead - Double(start)) * 1000 / Double(rate)
                worst = max(worst, abs(error))
                if abs(error) > 1 { problems.append(String(format: "second %d: onset %+.2f ms", k, error)) }
            } else {
                problems.append("second \(k): no burst within ±25 ms")
            }
            count += 1
            k += 1
        }
        let detail = problems.isEmpty
            ? String(format: "%d bursts, worst onset error %.3f ms (limit ±1 ms)", count, worst)
            : problems.prefix(5).joined(separator: "; ")
        return VerifyReport.Check(name: "bursts", passed: problems.isEmpty && count > 0 || job.plan.totalSamples < length,
                                  detail: detail)
    }

    func durations(_ media: Media, clock: SampleClock) -> VerifyReport.Check {
        let video = clock.time(ofFrame: probes.count)
        let audio = Rational(Int64(media.audio.frameCount), Int64(media.sampleRate))
        let frame = clock.time(ofFrame: 1)
        let gap = video < audio ? audio - video : video - audio
        let ms = gap.approximation * 1000
        let ok = gap < frame && !(media.videoDuration < video - frame) && !(video + frame < media.videoDuration)
        return VerifyReport.Check(
            name: "durations", passed: ok,
            detail: String(format: "video %.4f s (%d frames), audio %.4f s (%d samples), differ by %.3f ms (limit one frame, %.3f ms)",
                           video.approximation, probes.count, audio.approximation, media.audio.frameCount, ms,
                           frame.approximation * 1000))
    }
}

#if canImport(Glibc)
import Glibc
#endif
