import FarmCore

extension TestCardInspector {
    /// A place where one segment's owned frames end and the next one's begin, and whether content must carry.
    struct Join {
        var before: Segment
        var after: Segment
        var frame: Int
        /// Both sides belong to one shot (a continued shot changes its tone, so only the picture must carry).
        var sameShot: Bool
    }

    /// Joins inside a shot, and at shots that `continue` from the previous one (picture only: the tone is per shot).
    func continuousJoins() -> [Join] {
        let ordered = job.plan.segments.sorted { $0.own.lower < $1.own.lower }
        var out: [Join] = []
        for (a, b) in zip(ordered, ordered.dropFirst()) {
            let sameShot = a.shot == b.shot
            let continued = job.spec.shots[b.shot].transition == .continue && b.index == 0
            if sameShot || continued { out.append(Join(before: a, after: b, frame: b.own.lower, sameShot: sameShot)) }
        }
        return out
    }

    /// The largest frame-to-frame ball step inside a segment's owned frames.
    func largestBallStep(_ s: Segment) -> Double? {
        var best: Double?
        for f in s.own.lower..<(s.own.upper - 1) where f + 1 < probes.count {
            if let p = probes[f].ball, let q = probes[f + 1].ball {
                let d = ((q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y)).squareRoot()
                best = max(best ?? 0, d)
            }
        }
        return best
    }

    /// Samples inside bursts (with a margin for codec spreading) are left out of the click test.
    func inBurst(_ s: Int, rate: Int) -> Bool {
        let margin = rate / 200
        let offset = s % rate
        return offset < TestCardPattern.burstLength(sampleRate: rate) + margin || offset > rate - margin
    }

    func largestSampleJump(_ x: [Float], _ range: TimeRange, rate: Int) -> Float? {
        var best: Float?
        for s in (range.lower + 1)..<min(range.upper, x.count) where !inBurst(s, rate: rate) && !inBurst(s - 1, rate: rate) {
            best = max(best ?? 0, abs(x[s] - x[s - 1]))
        }
        return best
    }

    func joins(_ x: [Float], clock: SampleClock) -> [VerifyReport.Check] {
        let rate = clock.sampleRate
        let joins = continuousJoins()
        var ballProblems: [String] = [], soundProblems: [String] = []
        var worstBall = 0.0, worstSound: Float = 0
        var soundSkipped = 0
        for j in joins {
            // Ball: compare the step across the join (skipping flash frames) with the largest inside either side.
            let a = stride(from: j.frame - 1, through: max(0, j.frame - 3), by: -1).first { $0 < probes.count && probes[$0].ball != nil }
            let c = (j.frame..<min(probes.count, j.frame + 3)).first { probes[$0].ball != nil }
            let inside = [largestBallStep(j.before), largestBallStep(j.after)].compactMap { $0 }.max()
            if let a, let c, let p = probes[a].ball, let q = probes[c].ball, let inside {
                let step = ((q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y)).squareRoot() / Double(c - a)
                worstBall = max(worstBall, step - inside)
                if step > inside + 1.5 {
                    ballProblems.append(String(format: "%@→%@ at frame %d: ball steps %.1f px, at most %.1f inside",
                                               j.before.id, j.after.id, j.frame, step, inside))
                }
            } else {
                ballProblems.append("\(j.before.id)→\(j.after.id) at frame \(j.frame): ball not measurable")
            }
            // Sound: the sample-to-sample jump at the join against the largest inside either segment.
            guard j.sameShot else { continue }
            let s = clock.sample(atFrame: j.frame)
            if inBurst(s, rate: rate) || inBurst(s - 1, rate: rate) || s >= x.count || s < 1 {
                soundSkipped += 1
                continue
            }
            let jump = abs(x[s] - x[s - 1])
            let limit = [largestSampleJump(x, j.before.samples, rate: rate), largestSampleJump(x, j.after.samples, rate: rate)]
                .compactMap { $0 }.max() ?? 0
            worstSound = max(worstSound, jump / max(limit, 1e-9))
            if jump > limit + 1e-4 {
                soundProblems.append(String(format: "%@→%@ at sample %d: jump %.5f, at most %.5f inside",
                                            j.before.id, j.after.id, s, jump, limit))
            }
        }
        let n = joins.count, inside = joins.filter(\.sameShot).count
        return [
            VerifyReport.Check(
                name: "join picture", passed: ballProblems.isEmpty,
                detail: ballProblems.isEmpty
                    ? String(format: "%d joins, ball step never more than %.2f px over the largest inside", n, max(0, worstBall))
                    : ballProblems.prefix(5).joined(separator: "; ")),
            VerifyReport.Check(
                name: "join sound", passed: soundProblems.isEmpty,
                detail: soundProblems.isEmpty
                    ? String(format: "%d joins inside shots (%d inside a burst, not judged), largest jump %.0f%% of the largest inside",
                             inside, soundSkipped, Double(worstSound) * 100)
                    : soundProblems.prefix(5).joined(separator: "; ")),
        ]
    }
}
