import CFFmpeg
import FarmCore
import Foundation

/// Reads a film back with libavformat and libavcodec alone, independently of how it was written; the verifier's
/// eyes and ears.
///
/// Video is decoded to luma and handed out one picture at a time, so memory stays flat whatever the film's
/// length; audio is decoded whole, with the encoder priming and the last frame's padding that the container's
/// edit list excludes removed.
public struct FilmDecoder: Sendable {
    /// The film to read.
    public let url: URL

    public init(url: URL) {
        self.url = url
    }

    /// Decodes the whole film.
    /// - Parameters:
    ///   - pictures: decode the video; `false` only counts its packets (``DecodedFilm/frameCount`` is then the
    ///     number of video packets presented, and `onFrame` is never called), for callers that need the sound alone.
    ///   - onFrame: called for every picture in presentation order; throwing stops decoding.
    /// - Returns: the stream facts and the decoded audio.
    /// - Throws: ``MediaError/ffmpeg(operation:code:message:)`` when the file cannot be opened or decoded,
    ///   ``MediaError/invalidInput(_:)`` when it has no video stream, or what `onFrame` throws.
    public func decode(pictures: Bool = true, onFrame: (DecodedFrame) throws -> Void) throws -> DecodedFilm {
        var inputBox: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_open_input(&inputBox, url.path, nil, nil), "avformat_open_input(\(url.path))")
        defer { avformat_close_input(&inputBox) }
        let input = inputBox!
        try check(avformat_find_stream_info(input, nil), "avformat_find_stream_info(\(url.path))")
        let videoIndex = av_find_best_stream(input, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard videoIndex >= 0 else { throw MediaError.invalidInput("\(url.path) has no video stream") }
        let audioIndex = av_find_best_stream(input, AVMEDIA_TYPE_AUDIO, -1, -1, nil, 0)
        for index in 0 ..< Int(input.pointee.nb_streams) where index != videoIndex && index != audioIndex {
            input.pointee.streams[index]!.pointee.discard = AVDISCARD_ALL
        }
        let videoStream = input.pointee.streams[Int(videoIndex)]!
        let video = try StreamDecoder(stream: videoStream, threads: 0)
        let audio = audioIndex >= 0
            ? try StreamDecoder(stream: input.pointee.streams[Int(audioIndex)]!, threads: 1) : nil
        let pcm = audio.map { audio in
            PCMCollector(channels: Int(audio.context.pointee.ch_layout.nb_channels),
                         expectedSamplesPerChannel: Int(input.pointee.streams[Int(audioIndex)]!.pointee.duration))
        }

        let luma = LumaExtractor()
        var frameCount = 0
        var width = Int(videoStream.pointee.codecpar.pointee.width)
        var height = Int(videoStream.pointee.codecpar.pointee.height)
        let deliver: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
            width = Int(frame.pointee.width)
            height = Int(frame.pointee.height)
            try onFrame(DecodedFrame(index: frameCount, width: width, height: height, luma: luma.luma(of: frame)))
            frameCount += 1
        }
        let collect: (UnsafeMutablePointer<AVFrame>) throws -> Void = { try pcm?.append($0) }
        var span = PacketSpan()

        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")
        while true {
            let status = av_read_frame(input, packet)
            if status == ffmpegEndOfFile { break }
            try check(status, "av_read_frame(\(url.path))")
            defer { av_packet_unref(packet) }
            if packet.pointee.stream_index == videoIndex {
                span.add(packet)
                if pictures {
                    try video.decode(packet, onFrame: deliver)
                } else if packet.pointee.flags & AV_PKT_FLAG_DISCARD == 0 {
                    frameCount += 1
                }
            } else if let audio, packet.pointee.stream_index == audioIndex {
                try audio.decode(packet, onFrame: collect)
            }
        }
        if pictures { try video.decode(nil, onFrame: deliver) }
        try audio?.decode(nil, onFrame: collect)
        if let pcm, let audio {
            pcm.trim(toFrames: Self.presentedSamples(of: input.pointee.streams[Int(audioIndex)]!,
                                                     sampleRate: audio.context.pointee.sample_rate))
        }

        let timeBase = videoStream.pointee.time_base
        let duration = Rational(span.length * Int64(timeBase.num), Int64(timeBase.den))
        let rate = videoStream.pointee.avg_frame_rate
        let fps = rate.num > 0 && rate.den > 0
            ? Rational(Int64(rate.num), Int64(rate.den))
            : (duration.isPositive ? Rational(Int64(frameCount)) * Rational(duration.denominator, duration.numerator)
                                   : Rational(0))
        return DecodedFilm(
            videoCodec: video.codecName, audioCodec: audio?.codecName, frameCount: frameCount, width: width,
            height: height, videoDuration: duration, averageFPS: fps, audioSampleCount: pcm?.frameCount ?? 0,
            sampleRate: Int(audio?.context.pointee.sample_rate ?? 0), channels: pcm?.channels ?? 0,
            audio: pcm.map { PCMBuffer(channels: $0.channels, samples: $0.samples) })
    }
}

extension FilmDecoder {
    /// How many samples the container says the audio stream presents (the edit list's duration in MP4), or
    /// `Int.max` when it does not say. FFmpeg 5.1's MP4 demuxer removes the priming the edit list skips but not
    /// the padding of the last AAC frame beyond the edit's end, so the decoder trims that itself.
    static func presentedSamples(of stream: UnsafeMutablePointer<AVStream>, sampleRate: Int32) -> Int {
        let duration = stream.pointee.duration
        guard duration != CFFmpeg_AV_NOPTS_VALUE(), duration > 0, sampleRate > 0 else { return Int.max }
        return Int(av_rescale_q(duration, stream.pointee.time_base, AVRational(num: 1, den: sampleRate)))
    }
}

/// The presentation span the video packets cover: earliest pts to latest pts + duration, in the stream's time
/// base. Packets the demuxer marks as discarded (outside the edit list) do not count.
private struct PacketSpan {
    private var start = Int64.max
    private var end = Int64.min

    mutating func add(_ packet: UnsafeMutablePointer<AVPacket>) {
        let pts = packet.pointee.pts
        guard pts != CFFmpeg_AV_NOPTS_VALUE(), packet.pointee.flags & AV_PKT_FLAG_DISCARD == 0 else { return }
        start = min(start, pts)
        end = max(end, pts + max(packet.pointee.duration, 0))
    }

    var length: Int64 { end > start ? end - start : 0 }
}
