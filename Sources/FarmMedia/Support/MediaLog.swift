import CFFmpeg

/// How much FFmpeg (and libx264 through it) writes to standard error.
///
/// The level is process-wide FFmpeg state, so the executable (or a test suite) sets it once; FarmMedia itself
/// never changes it.
public enum MediaLog: Sendable {
    /// Nothing at all.
    case quiet
    /// Errors only.
    case errors
    /// Errors and warnings.
    case warnings
    /// FFmpeg's default: also informational lines such as libx264's statistics after every chunk.
    case info

    /// Sets FFmpeg's process-wide log level.
    public static func setLevel(_ level: MediaLog) {
        switch level {
        case .quiet: av_log_set_level(AV_LOG_QUIET)
        case .errors: av_log_set_level(AV_LOG_ERROR)
        case .warnings: av_log_set_level(AV_LOG_WARNING)
        case .info: av_log_set_level(AV_LOG_INFO)
        }
    }
}
