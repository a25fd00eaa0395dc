import CFFmpeg
import FarmCore

/// FFmpeg's native AAC encoder, run over a film's whole PCM timeline in one pass so that encoder priming happens
/// once at the start of the film and never at a segment join.
///
/// `@unchecked Sendable`: one thread at a time uses it. The assembler opens it on its own thread, copies
/// `parameters` into the muxer, then hands it to the audio thread, which alone calls ``encode(_:deliver:)``.
final class AACEncoder: @unchecked Sendable {
    private var contextBox: UnsafeMutablePointer<AVCodecContext>?
    private var parametersBox: UnsafeMutablePointer<AVCodecParameters>?
    private let codec: UnsafeMutablePointer<AVCodecContext>
    /// Stream parameters (with the AudioSpecificConfig as extradata) for the muxer.
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    /// Packet timestamps count samples: 1/sampleRate.
    let timeBase: AVRational

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
    }

    deinit {
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
        var frameBox = av_frame_alloc()
        defer { av_frame_free(&frameBox) }
        let frame = try checkAllocated(frameBox, "av_frame_alloc")
        let frameSize = Int(codec.pointee.frame_size)
        frame.pointee.nb_samples = Int32(frameSize)
        frame.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
        frame.pointee.sample_rate = codec.pointee.sample_rate
        try check(av_channel_layout_copy(&frame.pointee.ch_layout, &codec.pointee.ch_layout), "av_channel_layout_copy")
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer(aac input)")
        let channels = Int(codec.pointee.ch_layout.nb_channels)

        var sent = 0
        /// Sends `count` samples per channel from `interleaved` at sample `start`; `false` when told to stop.
        func send(_ interleaved: UnsafeBufferPointer<Float>, from start: Int, count: Int) throws -> Bool {
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
            return try receive(endingAt: Int64(total), deliver: deliver)
        }

        // Samples of a frame that straddles pieces, interleaved.
        var carried: [Float] = []
        carried.reserveCapacity(frameSize * channels)
        var read = 0
        for index in 0 ..< parts.audioPieceCount {
            let piece = try parts.audioPiece(index, channels: channels)
            guard piece.channels == channels else {
                throw MediaError.invalidInput("audio piece \(index) has \(piece.channels) channels, "
                                              + "the film has \(channels)")
            }
            read += piece.frameCount
            guard read <= total else {
                throw MediaError.invalidInput("audio piece \(index) runs past the \(total) samples per channel the "
                                              + "pieces' sizes add up to")
            }
            let go = try piece.samples.withUnsafeBufferPointer { samples in
                let frames = piece.frameCount
                var at = 0
                if !carried.isEmpty {
                    at = min(frameSize - carried.count / channels, frames)
                    carried.append(contentsOf: samples[0 ..< at * channels])
                    if carried.count == frameSize * channels {
                        guard try carried.withUnsafeBufferPointer({ try send($0, from: 0, count: frameSize) }) else {
                            return false
                        }
                        carried.removeAll(keepingCapacity: true)
                    }
                }
                while frames - at >= frameSize {
                    guard try send(samples, from: at, count: frameSize) else { return false }
                    at += frameSize
                }
                carried.append(contentsOf: samples[at * channels ..< frames * channels])
                return true
            }
            guard go else { return }
        }
        guard read == total else {
            throw MediaError.invalidInput("the audio pieces hold \(read) samples per channel; "
                                          + "their sizes said \(total)")
        }
        if !carried.isEmpty {
            guard try carried.withUnsafeBufferPointer({ try send($0, from: 0, count: carried.count / channels) }) else {
                return
            }
        }
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame(aac, flush)")
        _ = try receive(endingAt: Int64(total), deliver: deliver)
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
