import ArgumentParser
import FarmMedia

/// `--verbose`: lets FFmpeg's (and libx264's) own log lines through to stderr; they are silent otherwise, since
/// every failure that matters reaches the user as reelfarm's own message.
struct LogOptions: ParsableArguments {
    @Flag(help: "Show FFmpeg's own log lines on stderr.") var verbose = false

    /// Sets FFmpeg's process-wide log level for this command.
    func apply() {
        MediaLog.setLevel(verbose ? .info : .quiet)
    }
}
