import Foundation

extension Plan {
    private struct SegmentRow: Encodable {
        var id: String
        var shot: String
        var index: Int
        var generate: TimeRange
        var own: TimeRange
        var samples: TimeRange
        var context: ContextLink?
        var anchors: AnchorLink?
        var seed: UInt64
        var dependsOn: [String]

        enum CodingKeys: String, CodingKey {
            case id, shot, index, generate, own, samples, context, anchors, seed, dependsOn = "depends_on"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(shot, forKey: .shot)
            try c.encode(index, forKey: .index)
            try c.encode(generate, forKey: .generate)
            try c.encode(own, forKey: .own)
            try c.encode(samples, forKey: .samples)
            try c.encode(context, forKey: .context)  // explicit null when there is none
            if let anchors { try c.encode(anchors, forKey: .anchors) }
            try c.encode(seed, forKey: .seed)
            try c.encode(dependsOn, forKey: .dependsOn)
        }
    }

    private struct AnchorRow: Encodable {
        var id: String
        var shot: String
        var frames: [Int]
        var context: String?
        var seed: UInt64
        var dependsOn: [String]
        enum CodingKeys: String, CodingKey { case id, shot, frames, context, seed, dependsOn = "depends_on" }
    }

    private struct Document: Encodable {
        var schedule: String
        var segments: [SegmentRow]
        var anchorPasses: [AnchorRow]
        var totalFrames: Int
        var totalSamples: Int
        var totalWork: Int
        var criticalPath: Int
        enum CodingKeys: String, CodingKey {
            case schedule, segments, anchorPasses = "anchor_passes", totalFrames = "total_frames"
            case totalSamples = "total_samples", totalWork = "total_work", criticalPath = "critical_path"
        }
    }

    /// The plan as JSON: segments with half-open global ranges, totals and the critical path (in frames of work).
    public func jsonData() -> Data {
        let doc = Document(
            schedule: schedule.rawValue,
            segments: segments.map {
                SegmentRow(id: $0.id, shot: $0.shotID, index: $0.index, generate: $0.generate, own: $0.own,
                           samples: $0.samples, context: $0.context, anchors: $0.anchors, seed: $0.seed,
                           dependsOn: $0.dependsOn)
            },
            anchorPasses: anchors.map {
                AnchorRow(id: $0.id, shot: $0.shotID, frames: $0.frames, context: $0.context, seed: $0.seed,
                          dependsOn: $0.dependsOn)
            },
            totalFrames: totalFrames, totalSamples: totalSamples, totalWork: totalWork, criticalPath: criticalPath)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try! encoder.encode(doc)  // plain value types: encoding cannot fail
    }

    /// The plan as a human-readable table.
    public func table() -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        var lines = [pad("segment", 18) + pad("generate", 16) + pad("own", 16) + pad("samples", 22) + pad("context", 22) + "after"]
        for a in anchors {
            lines.append(pad(a.id, 18) + pad("\(a.frames.count) anchors", 16) + pad("-", 16) + pad("-", 22)
                         + pad(a.context ?? "-", 22) + (a.dependsOn.isEmpty ? "-" : a.dependsOn.joined(separator: ",")))
        }
        for s in segments {
            let ctx = s.context.map { "\($0.source) \($0.frames)" } ?? s.anchors.map { "\($0.task) #\($0.start)-\($0.end)" } ?? "-"
            lines.append(pad(s.id, 18) + pad(s.generate.description, 16) + pad(s.own.description, 16)
                         + pad(s.samples.description, 22) + pad(ctx, 22)
                         + (s.dependsOn.isEmpty ? "-" : s.dependsOn.joined(separator: ",")))
        }
        let seconds = format.clock.time(ofFrame: totalFrames).approximation
        lines.append("")
        lines.append("\(segments.count) segments, \(anchors.count) anchor passes, \(shots.count) shots, schedule \(schedule.rawValue)")
        lines.append("\(totalFrames) frames (\(String(format: "%.3f", seconds)) s at \(format.fps) fps), \(totalSamples) samples at \(format.sampleRate) Hz")
        lines.append("work \(totalWork) frames, critical path \(criticalPath) frames (parallelism ≤ \(String(format: "%.2f", Double(totalWork) / Double(max(criticalPath, 1)))))")
        return lines.joined(separator: "\n")
    }
}
