/// Frames of another task's output that a segment is conditioned on.
public struct ContextLink: Hashable, Sendable, Codable {
    /// The segment whose tail latents are taken.
    public var source: String
    /// Global frames the context covers (pinned at the start of this segment's latent grid).
    public var frames: TimeRange
    /// Latent steps those frames are.
    public var latents: Int

    public init(source: String, frames: TimeRange, latents: Int) {
        self.source = source
        self.frames = frames
        self.latents = latents
    }
}

/// The anchors a segment of the anchored schedule is held to at its two ends.
public struct AnchorLink: Hashable, Sendable, Codable {
    /// The shot's anchor task.
    public var task: String
    /// Index into the anchor task's frames for this segment's first and last generated frame.
    public var start: Int
    public var end: Int

    public init(task: String, start: Int, end: Int) {
        self.task = task
        self.start = start
        self.end = end
    }
}

/// One model call: a latent-aligned window of a shot, the frames and samples it delivers, and what it waits for.
public struct Segment: Hashable, Sendable, Identifiable {
    /// `"<shot id>/<index>"`.
    public var id: String
    public var shot: Int
    public var shotID: String
    public var index: Int
    /// Global frames generated; latent-aligned length.
    public var generate: TimeRange
    /// Global frames delivered; owned ranges of all segments tile the film.
    public var own: TimeRange
    /// Global audio samples delivered; derived from `own` through the film's ``SampleClock``.
    public var samples: TimeRange
    public var context: ContextLink?
    public var anchors: AnchorLink?
    public var seed: UInt64
    public var dependsOn: [String]
    /// Latent steps at the end of `generate` a following segment takes as context.
    public var tailLatents: Int
}

/// The anchored schedule's first pass for a shot: latents at every segment boundary.
public struct AnchorPass: Hashable, Sendable, Identifiable {
    /// `"<shot id>/anchors"`.
    public var id: String
    public var shot: Int
    public var shotID: String
    /// Global frames to produce latents at, ascending; the first is the shot's first frame and the last its end.
    public var frames: [Int]
    /// For a continued shot, the previous shot's anchor pass whose last latent (at this shot's first frame) pins
    /// this pass's first one.
    public var context: String?
    public var seed: UInt64
    public var dependsOn: [String]
}
