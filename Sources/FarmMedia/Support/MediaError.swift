import CFFmpeg

/// Why a media operation failed: an FFmpeg call, a malformed or mismatched chunk, unusable input, or the file
/// system.
public enum MediaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An FFmpeg function returned a negative code; `message` is `av_strerror`'s text for it.
    case ffmpeg(operation: String, code: Int32, message: String)
    /// The bytes are not a valid reelfarm chunk; `reason` names the field and what is wrong with it.
    case corruptChunk(reason: String)
    /// Chunk `index` of a film (0-based) cannot join it; `reason` names the field and both values.
    case chunkRefused(index: Int, reason: String)
    /// The caller passed something the operation cannot use (frame size, channel count, sample count, codec).
    case invalidInput(String)
    /// A file-system step (rename, remove) failed.
    case fileSystem(operation: String, path: String, message: String)

    public var description: String {
        switch self {
        case let .ffmpeg(operation, code, message):
            return "FFmpeg \(operation) failed: \(message) (code \(code))"
        case let .corruptChunk(reason):
            return "corrupt chunk: \(reason)"
        case let .chunkRefused(index, reason):
            return "chunk \(index) refused: \(reason)"
        case let .invalidInput(message):
            return "invalid input: \(message)"
        case let .fileSystem(operation, path, message):
            return "\(operation) \(path) failed: \(message)"
        }
    }
}

/// The one place where FFmpeg return codes become Swift errors.
///
/// - Parameters:
///   - code: what the FFmpeg function returned; negative means failure.
///   - operation: the call and its subject, e.g. `"avcodec_open2(libx264)"`, for the error text.
/// - Returns: `code` when it is not negative (byte counts, stream indices).
/// - Throws: ``MediaError/ffmpeg(operation:code:message:)``.
@discardableResult
func check(_ code: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    guard code < 0 else { return code }
    throw MediaError.ffmpeg(operation: operation(), code: code, message: ffmpegErrorText(code))
}

/// Throws ``MediaError/ffmpeg(operation:code:message:)`` for an allocation that returned `nil`.
func checkAllocated<T>(_ value: T?, _ operation: @autoclosure () -> String) throws -> T {
    guard let value else {
        let code = CFFmpeg_AVERROR(ENOMEM)
        throw MediaError.ffmpeg(operation: operation(), code: code, message: ffmpegErrorText(code))
    }
    return value
}

/// `av_strerror`'s text for `code`.
func ffmpegErrorText(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 {
        return "unknown FFmpeg error"
    }
    let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: text, as: UTF8.self)
}

/// FFmpeg's "try again" code: the codec wants more input (or wants its output read) before it can go on.
let ffmpegAgain = CFFmpeg_EAGAIN()
/// FFmpeg's end-of-stream code: a drained codec has nothing more to give.
let ffmpegEndOfFile = CFFmpeg_AVERROR_EOF()
