import FarmCore
import Foundation
import Testing

/// The plan → positions map that delivery and the seam report share: shots, pieces and joins tile the film's
/// frames and samples exactly, every sample position from the film's clock.
@Suite struct FilmLayoutTests {
    @Test func shotsPiecesAndJoinsTileTheFilmOverRandomStoryboards() throws {
        for seed in UInt64(1)...300 {
            var rng = TestRNG(seed)
            let spec = randomSpec(&rng)
            let plan = try Planner.plan(spec, geometry: stride4)
            let layout = FilmLayout(spec: spec, plan: plan)
            let clock = spec.output.clock
            #expect(layout.totalFrames == plan.totalFrames)
            #expect(layout.totalSamples == clock.sample(atFrame: plan.totalFrames))
            var frame = 0, sample = 0
            for shot in layout.shots {
                #expect(shot.frames.lower == frame && shot.samples.lower == sample, "seed \(seed)")
                #expect(shot.samples == clock.samples(forFrames: shot.frames), "seed \(seed)")
                frame = shot.frames.upper
                sample = shot.samples.upper
            }
            #expect(frame == layout.totalFrames && sample == layout.totalSamples, "seed \(seed)")
            (frame, sample) = (0, 0)
            for (i, piece) in layout.pieces.enumerated() {
                #expect(piece.frames.lower == frame && piece.samples.lower == sample, "seed \(seed)")
                #expect(layout.shots[piece.shot].frames.lower <= piece.frames.lower
                        && piece.frames.upper <= layout.shots[piece.shot].frames.upper, "seed \(seed)")
                #expect(layout.piece(containingFrame: piece.frames.lower) == i)
                #expect(layout.piece(containingFrame: piece.frames.upper - 1) == i)
                #expect(layout.shot(containingFrame: piece.frames.lower) == piece.shot)
                frame = piece.frames.upper
                sample = piece.samples.upper
            }
            #expect(frame == layout.totalFrames && sample == layout.totalSamples, "seed \(seed)")
            #expect(layout.piece(containingFrame: layout.totalFrames) == nil)
            #expect(layout.joins.count == layout.pieces.count - 1)
            for (join, next) in zip(layout.joins, layout.pieces.dropFirst()) {
                #expect(join.frame == next.frames.lower && join.sample == clock.sample(atFrame: join.frame))
                let startsShot = layout.shots.contains { $0.frames.lower == join.frame }
                let kind: FilmLayout.JoinKind = !startsShot ? .inShot
                    : spec.shots[next.shot].transition == .continue ? .continue : .cut
                #expect(join.kind == kind, "seed \(seed): join at \(join.frame)")
            }
            // Every shot start but the first is a join between shots.
            #expect(layout.joins.filter { $0.kind != .inShot }.count == layout.shots.count - 1, "seed \(seed)")
        }
    }

    @Test func timelineJSONCarriesExactRangesAndJoins() throws {
        var rng = TestRNG(7)
        let spec = randomSpec(&rng)
        let layout = FilmLayout(spec: spec, plan: try Planner.plan(spec, geometry: stride4))
        let data = OTIOTimeline(title: "t \"quoted\"\n", layout: layout, media: .film(url: "file:///f.mp4")).json()
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(doc["OTIO_SCHEMA"] as? String == "Timeline.1" && doc["name"] as? String == "t \"quoted\"\n")
        let stack = try #require(doc["tracks"] as? [String: Any])
        let tracks = try #require(stack["children"] as? [[String: Any]])
        #expect(tracks.map { $0["kind"] as? String } == ["Video", "Audio"])
        for (track, total) in zip(tracks, [layout.totalFrames, layout.totalSamples]) {
            let clips = try #require(track["children"] as? [[String: Any]])
            #expect(clips.map { $0["OTIO_SCHEMA"] as? String } == Array(repeating: "Clip.2", count: layout.shots.count))
            let durations = clips.compactMap {
                (($0["source_range"] as? [String: Any])?["duration"] as? [String: Any])?["value"] as? Double
            }
            #expect(durations.reduce(0, +) == Double(total))
            #expect((track["markers"] as? [Any])?.count == layout.joins.count)
        }
        // Doubles always carry a fraction: OTIO's reader wants a float for RationalTime fields.
        #expect(String(decoding: data, as: UTF8.self).contains("\"rate\": 48000.0")
                || String(decoding: data, as: UTF8.self).contains("\"rate\": 44100.0"))
    }
}
