import Foundation

/// The process's peak resident memory so far.
public enum PeakMemory {
    /// Peak resident set size in bytes (`getrusage`'s `ru_maxrss`).
    public static var bytes: Int {
        var usage = rusage()
        #if os(Linux)
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) * 1024  // KiB on Linux
        #else
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss)  // bytes on Darwin
        #endif
    }
}
