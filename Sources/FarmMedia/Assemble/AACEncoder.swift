import CFFmpeg
import FarmCore

/// FFmpeg's native AAC encoder, run over a film's whole PCM timeline in one pass so that encoder priming happens
/// once at the start of the film and never at a segment join.
///
/// The timeline goes in whole (``encode(_:total:deliver:)``) or piece by piece as it becomes known
/// (``append(_:endingAt:deliver:)``, then ``finish(deliver:)``), with the same packets either way.
///
/// `@unchecked Sendable`: one thread at a time uses it. The assembler opens it on its own thread, copies
/// `parameters` into the muxer, then hands it to the audio thread, which alone encodes.
final class AACEncoder: @unchecked Sendable {
    private var contextBox: UnsafeMutablePointer<AVCodecContext>?
    private var parametersBox: UnsafeMutablePointer<AVCodecParameters>?
    private let codec: UnsafeMutablePointer<AVCodecContext>
    /// Stream parameters (with the AudioSpecificConfig as extradata) for the muxer.
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    /// Packet timestamps count samples: 1/sampleRate.
    let timeBase: AVRational
    let channels: Int
    private let frameSize: Int
    private var frameBox: UnsafeMutablePointer<AVFrame>?
    /// The input frame, reused for every send.
    private let frame: UnsafeMutablePointer<AVFrame>
    /// Samples of a frame that straddles pieces, interleaved.
    private var carried: [Float] = []
    /// Samples per channel given so far (sent, or carried to the next piece).
    private(set) var taken = 0
    /// Samples per channel sent to the codec so far.
    private var sent = 0

    /// - Parameters:
    ///   - coder: the encoder's `aac_coder`, `"fast"` or `"twoloop"` (better, about twice as slow).
    init(bitRate: Int, coder: String, sampleRate: Int, channels: Int) throws {
        guard let encoder = avcodec_find_encoder_by_name("aac") else {
            throw MediaError.invalidInput("FFmpeg was built without the native aac encoder")
        }
        contextBox = avcodec_alloc_context3(encoder)
        codec = try checkAllocated(contextBox, "avcodec_alloc_context3(aac)")
        parametersBox = avcodec_parameters_alloc()
        parameters = try checkAllocated(parametersBox, "avcodec_parameters_alloc")
        codec.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
        codec.pointee.sample_rate = Int32(sampleRate)
        av_channel_layout_default(&codec.pointee.ch_layout, Int32(channels))
        codec.pointee.bit_rate = Int64(bitRate)
        codec.pointee.time_base = AVRational(num: 1, den: Int32(sampleRate))
        codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_BITEXACT
        timeBase = codec.pointee.time_base
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "aac_coder", coder, 0)
        try check(avcodec_open2(codec, encoder, &options),
                  "avcodec_open2(aac, \(sampleRate) Hz, \(channels) channels, \(bitRate) b/s, coder \(coder))")
        try check(avcodec_parameters_from_context(parameters, codec), "avcodec_parameters_from_context(aac)")
        self.channels = channels
        frameSize = Int(codec.pointee.frame_size)
        frameBox = av_frame_alloc()
        frame = try checkAllocated(frameBox, "av_frame_alloc")
        frame.pointee.nb_samples = Int32(frameSize)
        frame.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
        frame.pointee.sample_rate = codec.pointee.sample_rate
        try check(av_channel_layout_copy(&frame.pointee.ch_layout, &codec.pointee.ch_layout), "av_channel_layout_copy")
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer(aac input)")
        carried.reserveCapacity(frameSize * channels)
    }

    deinit {
        av_frame_free(&frameBox)
        avcodec_parameters_free(&parametersBox)
        avcodec_free_context(&contextBox)
    }

    /// Encodes the film's PCM timeline, read piece by piece from `parts`, and flushes, handing out each packet as
    /// it is ready. Frames are cut every `frame_size` samples from the film's start whatever the pieces' sizes, so
    /// the packets are the same however the timeline is split.
    ///
    /// The last packets' durations are cut so the track ends at the timeline's last sample: FFmpeg 5.1 reports a
    /// full frame for the short, padded last one, and the muxer writes the edit list's duration from packet
    /// durations.
    /// - Parameters:
    ///   - total: samples per channel the pieces add up to (`parts.audioFrameCount`).
    ///   - deliver: takes ownership of the packet; returns `false` to stop encoding early.
    /// - Throws: ``MediaError/invalidInput(_:)`` for a piece with the wrong channel count or pieces that do not add
    ///   up to `total`; the parts' own read errors.
    func encode(_ parts: some FilmParts, total: Int, deliver: (UnsafeMutablePointer<AVPacket>) throws -> Bool) throws {
        for index in 0 ..< parts.audioPieceCount {
            let piece = try parts.audioPiece(index, channels: channels)
            guard piece.channels == channels else {
                throw MediaError.invalidInput("audio piece \(index) has \(piece.channels) channels, "
                                              + "the film has \(channels)")
            }
            guard taken + piece.frameCount <= total else {
                throw MediaError.invalidInput("audio piece \(index) runs past the \(total) samples per channel the "
                                              + "pieces' sizes add up to")
            }
            guard try append(piece, endingAt: Int64(total), deliver: deliver) else { return }
        }
        guard taken == total else {
            throw MediaError.invalidInput("the audio pieces hold \(taken) samples per channel; "
                                          + "their sizes said \(total)")
        }
        try finish(deliver: deliver)
    }

    /// Encodes `piece` (the timeline's next samples, `channels` interleaved) in whole frames counted from the
    /// film's start, keeps the samples of a frame not yet full for the next piece, and hands out each packet ready.
    ///
    /// Encoding a timeline piece by piece as it becomes known gives the packets ``encode(_:total:deliver:)`` gives:
    /// the encoder sees the same frames in the same order, and a packet of whole frames never reaches past the
    /// samples given so far, so none needs the track's end before ``finish(deliver:)``.
    /// - Parameters:
    ///   - end: the track's last sample when known (packets reaching past it are cut to it), else `Int64.max`.
    ///   - deliver: takes ownership of the packet; returns `false` to stop encoding early.
    /// - Returns: `false` when `deliver` asked to stop.
    /// - Throws: ``MediaError/invalidInput(_:)`` for a piece with another channel count than the encoder's.
    func append(_ piece: PCMBuffer, endingAt end: Int64,
                deliver: (UnsafeMutablePointer<AVPacket>) throws -> Bool) throws -> Bool {
        guard piece.channels == channels else {
            throw MediaError.invalidInput("an audio piece has \(piece.channels) channels, the film has \(channels)")
        }
        taken += piece.frameCount
        return try piece.samples.withUnsafeBufferPointer { samples in
            let frames = piece.frameCount
            var at = 0
            if !carried.isEmpty {
                at = min(frameSize - carried.count / channels, frames)
                carried.append(contentsOf: samples[0 ..< at * channels])
                if carried.count == frameSize * channels {
                    let go = try carried.withUnsafeBufferPointer {
                        try send($0, from: 0, count: frameSize, endingAt: end, deliver: deliver)
                    }
                    guard go else { return false }
                    carried.removeAll(keepingCapacity: true)
                }
            }
            while frames - at >= frameSize {
                guard try send(samples, from: at, count: frameSize, endingAt: end, deliver: deliver) else {
                    return false
                }
                at += frameSize
            }
            carried.append(contentsOf: samples[at * channels ..< frames * channels])
            return true
        }
    }

    /// Encodes the samples held back (a short last frame, which the encoder pads with silence) and flushes the
    /// encoder, cutting the last packets to end at the last sample given; the encoder takes nothing after.
    /// - Parameter deliver: takes ownership of the packet; returns `false` to stop early.
    func finish(deliver: (UnsafeMutablePointer<AVPacket>) throws -> Bool) throws {
        let end = Int64(taken)
        if !carried.isEmpty {
            let go = try carried.withUnsafeBufferPointer {
                try send($0, from: 0, count: carried.count / channels, endingAt: end, deliver: deliver)
            }
            guard go else { return }
            carried.removeAll()
        }
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame(aac, flush)")
        _ = try receive(endingAt: end, deliver: deliver)
    }

    /// Sends `count` samples per channel from `interleaved` at sample `start`; `false` when told to stop.
    private func send(_ interleaved: UnsafeBufferPointer<Float>, from start: Int, count: Int, endingAt end: Int64,
                      deliver: (UnsafeMutablePointer<AVPacket>) throws -> Bool) throws -> Bool {
        try check(av_frame_make_writable(frame), "av_frame_make_writable(aac input)")
        // A short last frame is fine: the encoder pads it with silence.
        frame.pointee.nb_samples = Int32(count)
        for channel in 0 ..< channels {
            let plane = UnsafeMutableRawPointer(frame.pointee.extended_data[channel]!)
                .assumingMemoryBound(to: Float.self)
            var source = interleaved.baseAddress! + start * channels + channel
            for sample in 0 ..< count {
                plane[sample] = source.pointee
                source += channels
            }
        }
        frame.pointee.pts = Int64(sent)
        try check(avcodec_send_frame(codec, frame), "avcodec_send_frame(aac, sample \(sent))")
        sent += count
        return try receive(endingAt: end, deliver: deliver)
    }

    /// Hands out every packet the encoder has ready; `false` when `deliver` asked to stop.
    private func receive(endingAt end: Int64, deliver: (UnsafeMutablePointer<AVPacket>) throws -> Bool) throws
        -> Bool {
        while true {
            var box = av_packet_alloc()
            let packet = try checkAllocated(box, "av_packet_alloc")
            let status = avcodec_receive_packet(codec, packet)
            guard status >= 0 else {
                av_packet_free(&box)
                if status == ffmpegAgain || status == ffmpegEndOfFile { return true }
                try check(status, "avcodec_receive_packet(aac)")
                return false
            }
            if packet.pointee.pts + packet.pointee.duration > end {
                packet.pointee.duration = max(0, end - packet.pointee.pts)
            }
            guard try deliver(packet) else { return false }
        }
    }
}
