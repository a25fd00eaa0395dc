/// Cuts a storyboard into segments that share overlapping context. Pure: no I/O, same input, same plan.
public enum Planner {
    /// Plans `spec` for an engine with `geometry`.
    /// - Throws: ``SpecError`` when the model settings do not fit the engine's latent grid.
    public static func plan(_ spec: JobSpec, geometry: EngineGeometry, source: String = "storyboard") throws(SpecError) -> Plan {
        try check(spec.model, geometry, source: source)
        try check(spec.output, geometry, engine: spec.model.engine, source: source)
        let timeline = ShotTimeline(spec)
        let clock = timeline.clock
        var segments: [Segment] = []
        var anchors: [AnchorPass] = []
        var lastSegmentOfShot: Segment?
        var lastAnchorOfShot: AnchorPass?
        for span in timeline.shots {
            let shot = spec.shots[span.index]
            let continues = shot.transition == .continue && span.index > 0
            switch spec.model.schedule {
            case .chain:
                let made = chain(span, model: spec.model, geometry: geometry, clock: clock,
                                 after: continues ? lastSegmentOfShot : nil)
                segments += made
                lastSegmentOfShot = made.last
            case .anchored:
                let (pass, made) = anchored(span, model: spec.model, geometry: geometry, clock: clock,
                                            after: continues ? lastAnchorOfShot : nil)
                anchors.append(pass)
                segments += made
                lastAnchorOfShot = pass
            }
        }
        return Plan(format: spec.output, geometry: geometry, schedule: spec.model.schedule, segments: segments,
                    anchors: anchors, shots: timeline.shots, totalFrames: timeline.totalFrames,
                    totalSamples: timeline.totalSamples)
    }

    static func check(_ model: ModelSpec, _ g: EngineGeometry, source: String) throws(SpecError) {
        var issues: [SpecIssue] = []
        let s = g.temporalStride
        if !g.isAligned(model.window) {
            issues.append(SpecIssue(field: "model.window", rule: "must be 1 + \(s)·k frames for this engine (got \(model.window))"))
        }
        if model.window > g.maxWindow {
            issues.append(SpecIssue(field: "model.window", rule: "must be at most \(g.maxWindow) for engine \(model.engine) (got \(model.window))"))
        }
        if !g.isAligned(model.overlap) || model.overlap < 1 + s {
            issues.append(SpecIssue(field: "model.overlap", rule: "must be 1 + \(s)·k frames with k ≥ 1 (got \(model.overlap))"))
        }
        if model.overlap >= model.window {
            issues.append(SpecIssue(field: "model.overlap", rule: "must be < model.window (\(model.overlap) ≥ \(model.window))"))
        }
        if !issues.isEmpty { throw SpecError(source: source, issues: issues) }
    }

    static func check(_ output: OutputFormat, _ g: EngineGeometry, engine: String, source: String) throws(SpecError) {
        let m = g.spatialMultiple
        var issues: [SpecIssue] = []
        for (field, value) in [("output.width", output.width), ("output.height", output.height)] where value % m != 0 {
            issues.append(SpecIssue(field: field, rule: "must be a multiple of \(m) for engine \(engine) (got \(value))"))
        }
        if !issues.isEmpty { throw SpecError(source: source, issues: issues) }
    }

    /// Chain schedule: each segment continues from the tail latents of the one before.
    static func chain(
        _ span: ShotTimeline.Span, model: ModelSpec, geometry g: EngineGeometry, clock: SampleClock, after previous: Segment?
    ) -> [Segment] {
        var out: [Segment] = []
        var source = previous
        var position = span.frames.lower
        repeat {
            var context: ContextLink?
            var start = position
            if let source {
                // The context is the source's last latent-aligned `overlap` frames (all of it when shorter).
                let frames = min(model.overlap, source.generate.count)
                let range = TimeRange(source.generate.upper - frames, source.generate.upper)
                context = ContextLink(source: source.id, frames: range, latents: g.latentCount(forFrames: frames))
                start = range.lower
            }
            let capacity = model.window - (position - start)
            let own = TimeRange(position, min(span.frames.upper, position + capacity))
            let generate = TimeRange(start, start + g.aligned(own.upper - start))
            let index = out.count
            let segment = Segment(
                id: "\(span.id)/\(index)", shot: span.index, shotID: span.id, index: index,
                generate: generate, own: own, samples: clock.samples(forFrames: own), context: context, anchors: nil,
                seed: SeedDerivation.seed(job: model.seed, shotID: span.id, index: index),
                dependsOn: source.map { [$0.id] } ?? [],
                tailLatents: g.latentCount(forFrames: min(model.overlap, generate.count)))
            out.append(segment)
            source = segment
            position = own.upper
        } while position < span.frames.upper
        return out
    }

    /// Anchored schedule: an anchor pass fixes the latents at every boundary, then all segments run at once,
    /// each held to the anchors at its two ends. Boundaries are `window - 1` frames apart so neighbours share
    /// exactly their boundary frame.
    static func anchored(
        _ span: ShotTimeline.Span, model: ModelSpec, geometry g: EngineGeometry, clock: SampleClock,
        after previous: AnchorPass?
    ) -> (AnchorPass, [Segment]) {
        let step = model.window - 1
        var starts: [Int] = []
        var b = span.frames.lower
        repeat {
            starts.append(b)
            b += step
        } while b < span.frames.upper
        var ranges: [(generate: TimeRange, own: TimeRange)] = []
        for (k, start) in starts.enumerated() {
            let ownEnd = k + 1 < starts.count ? starts[k + 1] : span.frames.upper
            ranges.append((TimeRange(start, start + g.aligned(ownEnd - start + (k + 1 < starts.count ? 1 : 0))),
                           TimeRange(start, ownEnd)))
        }
        // Anchor frames: every segment's first and last generated frame, and the shot's end for a continuation.
        let frames = Array(Set(ranges.flatMap { [$0.generate.lower, $0.generate.upper - 1] } + [span.frames.upper])).sorted()
        let passID = "\(span.id)/anchors"
        let pass = AnchorPass(
            id: passID, shot: span.index, shotID: span.id, frames: frames, context: previous?.id,
            seed: SeedDerivation.seed(job: model.seed, shotID: span.id, index: -1),
            dependsOn: previous.map { [$0.id] } ?? [])
        let segments = ranges.enumerated().map { k, r in
            Segment(
                id: "\(span.id)/\(k)", shot: span.index, shotID: span.id, index: k,
                generate: r.generate, own: r.own, samples: clock.samples(forFrames: r.own), context: nil,
                anchors: AnchorLink(task: passID, start: frames.firstIndex(of: r.generate.lower)!,
                                    end: frames.firstIndex(of: r.generate.upper - 1)!),
                seed: SeedDerivation.seed(job: model.seed, shotID: span.id, index: k),
                dependsOn: [passID], tailLatents: 0)
        }
        return (pass, segments)
    }
}
