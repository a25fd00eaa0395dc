/// Up to which instant the coordinator knows it has heard every worker: a worker's silence is measured up to there,
/// never up to "now".
///
/// A loop that falls behind its input (a burst of joins, a starved machine) still holds heartbeats it has not read:
/// judged against the wall clock, every worker would look silent and be declared dead at once, then join again, which
/// puts the loop further behind. Instead, ``caughtUp`` moves only when a receive found the socket empty and every
/// message read was handled, to the instant that receive began: whatever a worker sent before then has been heard.
/// A stall of the loop itself (the process stopped, one iteration over a second) also holds reaping off for a whole
/// liveness limit after it resumed, since the messages that queued inside libzmq and the kernel meanwhile are read
/// only then.
struct LivenessClock {
    /// Every message sent before this instant (monotonic seconds) has been read and handled.
    private(set) var caughtUp: Double
    /// No worker is declared dead before this instant.
    private(set) var holdOff = 0.0
    /// When the log last said that the loop is behind.
    private var behindSaid = -Double.infinity
    /// Since when at least half the farm (and at least ``massSilence`` workers) has been silent at once.
    private(set) var massSince: Double?
    /// How many workers silent at once may be the farm's fault rather than theirs, and for how long at most.
    static let massSilence = 50
    static let massSilenceSeconds = 30.0

    init(start: Double) { caughtUp = start }

    /// A receive that began at `start` found the socket empty (`drained`), and the iteration handled all it read
    /// (`handledAll`; a dashboard request may leave some for the next one).
    mutating func received(startedAt start: Double, drained: Bool, handledAll: Bool) {
        if drained && handledAll { caughtUp = max(caughtUp, start) }
    }

    /// The loop resumed at `now` after a gap (between or inside iterations) of `gap` seconds; over a second is a stall.
    mutating func resumed(at now: Double, after gap: Double, limit: Double) {
        if gap > 1.0 { holdOff = max(holdOff, now + limit) }
    }

    /// The instant up to which silence counts, or `nil` while reaping is held off.
    func reapTime(now: Double) -> Double? { now >= holdOff ? caughtUp : nil }

    /// Whether `silent` of `total` workers, silent past the limit at once, are spared for now: at least half the farm
    /// and at least ``massSilence`` is more likely this coordinator's or its network's fault (the I/O thread still
    /// behind after a stall, a switch between two racks) than a mass death, so nobody is declared dead for up to
    /// ``massSilenceSeconds`` (judged again every `limit`) unless heard again. Kubernetes' node controller stops evicting
    /// in a fully disrupted zone for the same reason.
    mutating func spares(silent: Int, of total: Int, now: Double, limit: Double) -> Bool {
        guard silent >= Self.massSilence, silent * 2 >= total else {
            massSince = nil
            return false
        }
        let since = massSince ?? now
        massSince = since
        guard now - since < Self.massSilenceSeconds else {
            massSince = nil  // they die now; a later mass silence is a new episode
            return false
        }
        holdOff = max(holdOff, now + limit)
        return true
    }

    /// A line for the log when the loop is more than `limit` behind its input (at most every 10 s), else `nil`.
    mutating func behindNotice(now: Double, limit: Double) -> String? {
        guard now - caughtUp > limit, now - behindSaid >= 10 else { return nil }
        behindSaid = now
        return "the loop is \(Int(now - caughtUp)) s behind what workers sent; nobody is declared dead until it has read it"
    }
}
