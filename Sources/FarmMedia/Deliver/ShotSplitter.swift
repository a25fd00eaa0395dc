import CFFmpeg
import FarmCore
import Foundation

/// Cuts a finished film into one MP4 per shot: the picture by stream copy, the sound re-encoded from exactly the
/// shot's samples.
///
/// Picture: a film's chunks are closed-GOP H.264 opening with an IDR frame, and every shot starts a chunk, so a
/// shot's packets are a run of the film's packets in decode order that opens with a keyframe; that is checked
/// for every shot before anything is written, and a film where it does not hold is refused (it cannot be cut
/// without re-encoding). Timestamps are rebuilt as the assembler builds them: pts in frames from the shot's first
/// frame, dts from decode order less the shot's B-frame delay.
///
/// Sound: the film has one AAC track for the whole film, whose 1 024-sample frames do not start on shot
/// boundaries, and an AAC frame cannot be decoded alone (each overlaps the one before). Stream-copying packets would
/// need an edit list to trim each file to its samples, which many players ignore; so each shot's samples, decoded
/// once from the film (priming removed), are encoded again, exactly `[shot.samples)` per file. The cost is a second
/// AAC generation at the same bit rate.
public struct ShotSplitter: Sendable {
    /// The film to cut.
    public let film: URL
    /// AAC bit rate of each shot's sound, all channels together.
    public let audioBitRate: Int

    public init(film: URL, audioBitRate: Int = 192_000) {
        self.film = film
        self.audioBitRate = audioBitRate
    }

    /// Where a video packet of the film goes.
    private struct PacketPlace {
        var shot: Int
        /// Presentation index in the shot.
        var pts: Int64
        /// Decode index in the shot.
        var position: Int64
        var isKeyframe: Bool
    }

    /// A film that does not fit the layout it is to be cut by; the sentence names the film.
    public struct Mismatch: Error, CustomStringConvertible {
        public var description: String
    }

    /// The film's sound decoded whole (what ``split(layout:format:audio:to:)`` takes), once its frames, samples,
    /// rate and channels are checked against `layout`.
    /// - Throws: ``Mismatch`` when they do not fit or the film has no sound; ``MediaError`` when it cannot be read.
    public func sound(fitting layout: FilmLayout, format: OutputFormat) throws -> PCMBuffer {
        let decoded = try FilmDecoder(url: film).decode(pictures: false) { _ in }
        if let problem = layout.mismatch(frames: decoded.frameCount, samples: decoded.audioSampleCount,
                                         sampleRate: decoded.sampleRate, channels: decoded.channels, format: format) {
            throw Mismatch(description: "\(film.path): \(problem)")
        }
        guard let audio = decoded.audio else { throw Mismatch(description: "\(film.path) has no audio stream") }
        return audio
    }

    /// Writes shot `i` of `layout` to `outputs[i]` (each written under a temporary name, then renamed).
    /// - Parameters:
    ///   - audio: the film's decoded sound, exactly `layout.totalSamples` per channel.
    /// - Throws: ``MediaError/invalidInput(_:)`` when the film does not match the layout or a shot does not start
    ///   on a keyframe; FFmpeg and file-system errors.
    public func split(layout: FilmLayout, format: OutputFormat, audio: PCMBuffer, to outputs: [URL]) throws {
        guard outputs.count == layout.shots.count else {
            throw MediaError.invalidInput("\(outputs.count) output files for \(layout.shots.count) shots")
        }
        guard audio.frameCount == layout.totalSamples, audio.channels == format.channels else {
            throw MediaError.invalidInput("the sound has \(audio.frameCount) samples × \(audio.channels) channels; "
                                          + "the layout needs \(layout.totalSamples) × \(format.channels)")
        }
        let places = try plan(layout: layout)
        var delay = [Int64](repeating: 0, count: layout.shots.count)
        for p in places { delay[p.shot] = max(delay[p.shot], p.position - p.pts) }

        var inputBox: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_open_input(&inputBox, film.path, nil, nil), "avformat_open_input(\(film.path))")
        defer { avformat_close_input(&inputBox) }
        let input = inputBox!
        try check(avformat_find_stream_info(input, nil), "avformat_find_stream_info(\(film.path))")
        let videoIndex = av_find_best_stream(input, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard videoIndex >= 0 else { throw MediaError.invalidInput("\(film.path) has no video stream") }
        guard let stream = input.pointee.streams[Int(videoIndex)], let parameters = stream.pointee.codecpar else {
            throw MediaError.invalidInput("\(film.path): its video stream has no codec parameters")
        }
        let rate = AVRational(num: Int32(format.fps.numerator), den: Int32(format.fps.denominator))
        let frameTime = AVRational(num: rate.den, den: rate.num)

        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")
        var current: ShotFile?
        var index = 0
        defer { current?.abandon() }
        while true {
            let status = av_read_frame(input, packet)
            if status == ffmpegEndOfFile { break }
            try check(status, "av_read_frame(\(film.path))")
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == videoIndex, packet.pointee.flags & AV_PKT_FLAG_DISCARD == 0 else {
                continue
            }
            let place = places[index]
            index += 1
            if current?.shot != place.shot {
                try current?.finish()
                current = nil
                let shot = layout.shots[place.shot]
                let pcm = PCMBuffer(channels: audio.channels, samples: Array(
                    audio.samples[shot.samples.lower * audio.channels ..< shot.samples.upper * audio.channels]))
                current = try ShotFile(shot: place.shot, output: outputs[place.shot], video: parameters,
                                       frameRate: rate, audio: pcm, format: format, bitRate: audioBitRate)
            }
            packet.pointee.pts = place.pts
            packet.pointee.dts = place.position - delay[place.shot]
            packet.pointee.duration = 1
            packet.pointee.pos = -1
            try current?.write(video: packet, timeBase: frameTime)
        }
        try current?.finish()
        current = nil
    }

    /// Reads the film's video packets once and places each in its shot, checking that every shot is a run of
    /// packets in decode order that opens with a keyframe at the shot's first frame.
    private func plan(layout: FilmLayout) throws -> [PacketPlace] {
        var inputBox: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_open_input(&inputBox, film.path, nil, nil), "avformat_open_input(\(film.path))")
        defer { avformat_close_input(&inputBox) }
        let input = inputBox!
        try check(avformat_find_stream_info(input, nil), "avformat_find_stream_info(\(film.path))")
        let videoIndex = av_find_best_stream(input, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard videoIndex >= 0 else { throw MediaError.invalidInput("\(film.path) has no video stream") }
        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")
        var stamps: [(pts: Int64, key: Bool)] = []
        while true {
            let status = av_read_frame(input, packet)
            if status == ffmpegEndOfFile { break }
            try check(status, "av_read_frame(\(film.path))")
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == videoIndex, packet.pointee.flags & AV_PKT_FLAG_DISCARD == 0 else {
                continue
            }
            guard packet.pointee.pts != CFFmpeg_AV_NOPTS_VALUE() else {
                throw MediaError.invalidInput("\(film.path): video packet \(stamps.count) has no presentation time")
            }
            stamps.append((packet.pointee.pts, packet.pointee.flags & AV_PKT_FLAG_KEY != 0))
        }
        guard stamps.count == layout.totalFrames else {
            throw MediaError.invalidInput("\(film.path) has \(stamps.count) video frames but the storyboard plans "
                                          + "\(layout.totalFrames) (is it the film of this storyboard?)")
        }
        // A frame's number is its rank in presentation order, whatever the container's time base and offset.
        let order = stamps.indices.sorted { stamps[$0].pts < stamps[$1].pts }
        var frameOf = [Int](repeating: 0, count: stamps.count)
        for (rank, i) in order.enumerated() {
            if rank > 0, stamps[order[rank - 1]].pts == stamps[i].pts {
                throw MediaError.invalidInput(
                    "\(film.path): two video packets share presentation time \(stamps[i].pts)")
            }
            frameOf[i] = rank
        }
        var places: [PacketPlace] = []
        places.reserveCapacity(stamps.count)
        var shot = -1, start = 0
        for (i, stamp) in stamps.enumerated() {
            let frame = frameOf[i]
            guard let s = layout.shot(containingFrame: frame) else {
                throw MediaError.invalidInput("\(film.path): frame \(frame) is in no shot")
            }
            if s != shot {
                let first = layout.shots[s]
                guard s > shot, frame == first.frames.lower, stamp.key else {
                    throw MediaError.invalidInput(
                        "\(film.path): shot \(first.id) does not start on a keyframe in decode order (packet \(i) "
                        + "is frame \(frame)\(stamp.key ? "" : ", not a keyframe"); the shot starts at frame "
                        + "\(first.frames.lower)): it cannot be cut out without re-encoding")
                }
                shot = s
                start = i
            }
            places.append(PacketPlace(shot: s, pts: Int64(frame - layout.shots[s].frames.lower),
                                      position: Int64(i - start), isKeyframe: stamp.key))
        }
        return places
    }
}

/// One shot's MP4 being written: the copied video stream and the shot's sound, encoded up front and interleaved
/// by decode time.
private final class ShotFile {
    let shot: Int
    private let output: URL
    private let temporary: URL
    private let writer: MP4Writer
    private let videoIndex: Int32
    private let audioIndex: Int32
    private let audioTimeBase: AVRational
    private var audioPackets: [UnsafeMutablePointer<AVPacket>?] = []
    private var nextAudio = 0
    private var done = false

    init(shot: Int, output: URL, video: UnsafePointer<AVCodecParameters>, frameRate: AVRational, audio: PCMBuffer,
         format: OutputFormat, bitRate: Int) throws {
        self.shot = shot
        self.output = output
        temporary = output.deletingLastPathComponent()
            .appendingPathComponent(".\(output.lastPathComponent).\(UUID().uuidString).partial")
        let encoder = try AACEncoder(bitRate: bitRate, coder: "fast", sampleRate: format.sampleRate,
                                     channels: format.channels)
        writer = try MP4Writer(path: temporary.path)
        videoIndex = try writer.addStream(parameters: video,
                                          timeBase: AVRational(num: frameRate.den, den: frameRate.num),
                                          frameRate: frameRate)
        audioIndex = try writer.addStream(parameters: encoder.parameters, timeBase: encoder.timeBase)
        audioTimeBase = encoder.timeBase
        var packets: [UnsafeMutablePointer<AVPacket>?] = []
        try encoder.encode(FilmInMemory(chunks: [], audio: [audio]), total: audio.frameCount) {
            packets.append($0)
            return true
        }
        audioPackets = packets
        try writer.writeHeader(movieTimescale: MP4Writer.movieTimescale(fps: format.fps, sampleRate: format.sampleRate))
    }

    deinit {
        for i in audioPackets.indices { av_packet_free(&audioPackets[i]) }
    }

    /// Writes the sound that decodes no later than `packet`, then `packet`.
    func write(video packet: UnsafeMutablePointer<AVPacket>, timeBase: AVRational) throws {
        try writeAudio(upTo: (packet.pointee.dts, timeBase))
        try writer.write(packet, stream: videoIndex, timeBase: timeBase)
    }

    private func writeAudio(upTo limit: (time: Int64, base: AVRational)?) throws {
        while nextAudio < audioPackets.count, let next = audioPackets[nextAudio],
              limit.map({ av_compare_ts(next.pointee.dts, audioTimeBase, $0.time, $0.base) <= 0 }) ?? true {
            try writer.write(next, stream: audioIndex, timeBase: audioTimeBase)
            av_packet_free(&audioPackets[nextAudio])
            nextAudio += 1
        }
    }

    /// Writes the rest of the sound, closes the file and renames it into place.
    func finish() throws {
        try writeAudio(upTo: nil)
        try writer.finish()
        done = true
        guard rename(temporary.path, output.path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary.path)
            throw MediaError.fileSystem(operation: "rename to \(output.path)", path: temporary.path, message: message)
        }
    }

    /// Removes the unfinished file (after a failure).
    func abandon() {
        guard !done else { return }
        writer.close()
        unlink(temporary.path)
    }
}
