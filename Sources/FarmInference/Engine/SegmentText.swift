import FarmCore

/// The words a segment is conditioned on, built from its shot brief.
///
/// The prompt carries the camera direction. The sound text is the sound in effect at the segment's first sample
/// (the shot's, or the last cue before it), followed by each cue that starts inside the segment in order
/// (`"rain; then thunder"`), so a cue reaches the audio stream in the segment that contains it.
public enum SegmentText {
    /// Prompt text: the shot's prompt, then its camera direction.
    public static func prompt(_ shot: ShotBrief) -> String {
        shot.camera.isEmpty ? shot.prompt : "\(shot.prompt); camera: \(shot.camera)"
    }

    /// Sound text for global samples `samples` of the shot.
    public static func sound(_ shot: ShotBrief, samples: TimeRange) -> String {
        var current = shot.sound
        var later: [String] = []
        for cue in shot.cues.sorted(by: { $0.sample < $1.sample }) {
            if cue.sample <= samples.lower {
                current = cue.sound
            } else if cue.sample < samples.upper {
                later.append("then \(cue.sound)")
            }
        }
        return ([current] + later).joined(separator: "; ")
    }
}
