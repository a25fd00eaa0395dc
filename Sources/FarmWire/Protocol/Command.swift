/// Every command of reelfarm's wire protocol (see `PROTOCOL.md` beside this folder).
public enum Command: UInt8, CaseIterable, Sendable {
    // Worker → coordinator
    case hello = 1
    case heartbeat = 2
    case progress = 3
    case resultPart = 4
    case result = 5
    case failed = 6
    case bye = 7
    // Coordinator → worker
    case welcome = 16
    case assign = 17
    case cancelTask = 18
    case drain = 19
    // Client → coordinator
    case submit = 32
    case status = 33
    case cancelJob = 34
    case fetch = 35
    case workers = 36
    case retryJob = 37
    case deleteJob = 38
    case jobPlan = 39
    case setPriority = 40
    case workerControl = 41
    // Coordinator → client
    case reply = 48
    case filmPart = 49
    // Either way: the message was not accepted.
    case refused = 64
}
