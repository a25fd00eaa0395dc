import CFFmpeg
import FarmCore
import Foundation

/// Builds the film MP4: the chunks' H.264 packets concatenated without re-encoding, plus one AAC encode of the
/// whole PCM timeline, interleaved by time.
///
/// The file is byte-deterministic for the same chunks, audio and settings, however the parts split the audio. It
/// is written next to `output` under a temporary name and renamed into place only when complete, so a failure
/// leaves no half-written film. The parts are read one at a time (each chunk twice: to check how they join, then
/// to mux it with its checksum checked), so memory stays at a chunk and an audio piece whatever the film's length.
/// The AAC encode runs on a second thread while the video is muxed.
public struct MP4FilmAssembler: FilmAssembler {
    /// AAC bit rate for all channels together, in bits per second.
    public let audioBitRate: Int
    /// The AAC encoder's `aac_coder`.
    let audioCoder: String

    /// - Parameter audioBitRate: AAC bit rate for all channels together, in bits per second.
    public init(audioBitRate: Int = 192_000) {
        self.init(audioBitRate: audioBitRate, audioCoder: "fast")
    }

    /// - Parameter audioCoder: `"fast"` (the public default: 1.6 to 3 times faster than `"twoloop"` on every
    ///   signal measured, at the same size) or `"twoloop"`.
    init(audioBitRate: Int, audioCoder: String) {
        self.audioBitRate = audioBitRate
        self.audioCoder = audioCoder
    }

    /// Parses `chunk` with its checksum (``ChunkInfo/parse(_:)``).
    public func inspect(_ chunk: EncodedChunk) throws -> ChunkSummary {
        let info = try ChunkInfo.parse(chunk)
        return ChunkSummary(width: info.width, height: info.height, fps: info.fps, frameCount: info.frameCount,
                            parameters: info.extradata)
    }

    /// Starts a film assembled while its parts arrive (``MP4FilmInProgress``), written byte for byte as
    /// ``assemble(_:format:to:)`` writes it.
    /// - Throws: ``MediaError/invalidInput(_:)`` for a frame rate, sample rate or channel count it cannot write.
    public func begin(format: OutputFormat, workingDirectory: URL) throws -> (any FilmInProgress)? {
        try Self.checkFormat(format)
        return MP4FilmInProgress(format: format, audioBitRate: audioBitRate, audioCoder: audioCoder,
                                 workingDirectory: workingDirectory)
    }

    /// Writes the film to `output`, replacing any file there.
    /// - Throws: ``MediaError/chunkRefused(index:reason:)`` for a corrupt or unreadable chunk or one whose size,
    ///   frame rate or SPS/PPS differ; ``MediaError/invalidInput(_:)`` when the audio's channels or length do not
    ///   match the video; ``MediaError/ffmpeg(operation:code:message:)`` or
    ///   ``MediaError/fileSystem(operation:path:message:)`` when writing fails; the parts' own errors reading audio.
    public func assemble(_ parts: some FilmParts, format: OutputFormat, to output: URL) throws {
        try Self.checkFormat(format)
        let video = try ChunkSequence(parts: parts, format: format)
        let audioFrames = try parts.audioFrameCount(channels: format.channels)
        try Self.checkAudio(frames: audioFrames, format: format, videoFrames: video.totalFrames)
        let encoder = try AACEncoder(bitRate: audioBitRate, coder: audioCoder, sampleRate: format.sampleRate,
                                     channels: format.channels)
        let temporary = output.deletingLastPathComponent()
            .appendingPathComponent(".\(output.lastPathComponent).\(UUID().uuidString).partial")
        let writer = try MP4Writer(path: temporary.path)
        let videoIndex = try writer.addVideoStream(width: format.width, height: format.height, fps: format.fps,
                                                   extradata: video.extradata)
        let audioIndex = try writer.addStream(parameters: encoder.parameters, timeBase: encoder.timeBase)
        let audioTimeBase = encoder.timeBase
        let audioPackets = AudioEncodingThread(encoder: encoder, parts: parts, total: audioFrames)
        defer { audioPackets.stopAndWait() }
        do {
            try writer.writeHeader(movieTimescale: MP4Writer.movieTimescale(fps: format.fps,
                                                                             sampleRate: format.sampleRate))
            try mux(video: video, parts: parts, videoIndex: videoIndex, fps: format.fps, into: writer) { dts in
                // Audio that starts no later than the next video packet goes first.
                while let next = try audioPackets.peek(),
                      dts.map({ av_compare_ts(next.pointee.dts, audioTimeBase, $0.time, $0.base) <= 0 }) ?? true {
                    var packet: UnsafeMutablePointer<AVPacket>? = audioPackets.takeFirst()
                    defer { av_packet_free(&packet) }
                    try writer.write(packet!, stream: audioIndex, timeBase: audioTimeBase)
                }
            }
            try writer.finish()
            guard rename(temporary.path, output.path) == 0 else {
                throw MediaError.fileSystem(operation: "rename to \(output.path)", path: temporary.path,
                                            message: String(cString: strerror(errno)))
            }
        } catch {
            unlink(temporary.path)
            throw error
        }
    }

    /// Writes every video packet with its film-wide timestamps, calling `audioUpTo` before each with the packet's
    /// dts and once at the end with `nil`.
    private func mux(video: ChunkSequence, parts: some FilmParts, videoIndex: Int32, fps: Rational,
                     into writer: MP4Writer,
                     audioUpTo: ((time: Int64, base: AVRational)?) throws -> Void) throws {
        let frameTime = AVRational(num: Int32(fps.denominator), den: Int32(fps.numerator))
        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")
        for chunkIndex in video.infos.indices {
            let chunk = try video.checkedChunk(chunkIndex, of: parts)
            let info = video.infos[chunkIndex]
            try chunk.data.withUnsafeBytes { bytes in
                for (position, stored) in info.packets.enumerated() {
                    let (pts, dts) = video.timestamps(chunk: chunkIndex, position: position)
                    try audioUpTo((dts, frameTime))
                    let size = stored.byteRange.count
                    try check(av_new_packet(packet, Int32(size)), "av_new_packet(\(size) bytes)")
                    defer { av_packet_unref(packet) }
                    UnsafeMutableRawPointer(packet.pointee.data!)
                        .copyMemory(from: bytes.baseAddress! + stored.byteRange.lowerBound, byteCount: size)
                    packet.pointee.pts = pts
                    packet.pointee.dts = dts
                    packet.pointee.duration = 1
                    if stored.isKeyframe { packet.pointee.flags |= AV_PKT_FLAG_KEY }
                    try writer.write(packet, stream: videoIndex, timeBase: frameTime)
                }
            }
        }
        try audioUpTo(nil)
    }

    private static func checkFormat(_ format: OutputFormat) throws {
        let limit = Int64(Int32.max)
        guard format.fps.isPositive, format.fps.numerator <= limit, format.fps.denominator <= limit else {
            throw MediaError.invalidInput("frame rate \(format.fps) must be positive and fit 32 bits")
        }
        guard format.sampleRate > 0, format.sampleRate <= Int(Int32.max) else {
            throw MediaError.invalidInput("sample rate \(format.sampleRate) must be positive")
        }
        guard (1 ... 8).contains(format.channels) else {
            throw MediaError.invalidInput("channel count \(format.channels) must be 1 to 8")
        }
    }

    /// The PCM must be the film's exact timeline: as long as the video to the sample (the encoder checks each
    /// piece's channel count as it reads it).
    private static func checkAudio(frames audioFrames: Int, format: OutputFormat, videoFrames frames: Int) throws {
        let expected = format.clock.sample(atFrame: frames)
        guard audioFrames == expected else {
            throw MediaError.invalidInput("audio has \(audioFrames) samples per channel; \(frames) frames at "
                                          + "\(format.fps) fps need exactly \(expected) at \(format.sampleRate) Hz")
        }
    }
}
