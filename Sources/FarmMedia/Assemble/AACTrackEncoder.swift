import CFFmpeg
import FarmCore

/// Encodes a film's whole PCM timeline with FFmpeg's native AAC encoder in one pass, so encoder priming happens
/// once at the start of the film and never at a segment join.
struct AACTrackEncoder {
    let bitRate: Int
    /// The encoder's `aac_coder`: `"fast"` or `"twoloop"` (better, slower).
    let coder: String

    /// - Throws: ``MediaError/ffmpeg(operation:code:message:)`` when the encoder refuses the layout or fails.
    func encode(_ pcm: PCMBuffer, sampleRate: Int) throws -> EncodedAudioTrack {
        guard let encoder = avcodec_find_encoder_by_name("aac") else {
            throw MediaError.invalidInput("FFmpeg was built without the native aac encoder")
        }
        var context = avcodec_alloc_context3(encoder)
        defer { avcodec_free_context(&context) }
        let codec = try checkAllocated(context, "avcodec_alloc_context3(aac)")
        codec.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
        codec.pointee.sample_rate = Int32(sampleRate)
        av_channel_layout_default(&codec.pointee.ch_layout, Int32(pcm.channels))
        codec.pointee.bit_rate = Int64(bitRate)
        codec.pointee.time_base = AVRational(num: 1, den: Int32(sampleRate))
        codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_BITEXACT
        codec.pointee.thread_count = 1
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "aac_coder", coder, 0)
        try check(avcodec_open2(codec, encoder, &options),
                  "avcodec_open2(aac, \(sampleRate) Hz, \(pcm.channels) channels, \(bitRate) b/s)")

        let track = try EncodedAudioTrack(codec: codec)
        var frameBox = av_frame_alloc()
        defer { av_frame_free(&frameBox) }
        let frame = try checkAllocated(frameBox, "av_frame_alloc")
        let frameSize = Int(codec.pointee.frame_size)
        frame.pointee.nb_samples = Int32(frameSize)
        frame.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
        frame.pointee.sample_rate = Int32(sampleRate)
        try check(av_channel_layout_copy(&frame.pointee.ch_layout, &codec.pointee.ch_layout), "av_channel_layout_copy")
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer(aac input)")

        let channels = pcm.channels
        let total = pcm.frameCount
        try pcm.samples.withUnsafeBufferPointer { interleaved in
            var start = 0
            while start < total {
                let count = min(frameSize, total - start)
                try check(av_frame_make_writable(frame), "av_frame_make_writable(aac input)")
                // The last frame may be short; the encoder pads it and trims the packet duration itself.
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
                frame.pointee.pts = Int64(start)
                try check(avcodec_send_frame(codec, frame), "avcodec_send_frame(aac, sample \(start))")
                try track.receive(from: codec)
                start += count
            }
        }
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame(aac, flush)")
        try track.receive(from: codec)
        return track
    }
}

/// An encoded audio track held in memory: stream parameters and packets (timestamps in 1/sampleRate).
final class EncodedAudioTrack {
    private var parametersBox: UnsafeMutablePointer<AVCodecParameters>?
    private(set) var packets: [UnsafeMutablePointer<AVPacket>] = []
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    let timeBase: AVRational

    init(codec: UnsafeMutablePointer<AVCodecContext>) throws {
        parametersBox = avcodec_parameters_alloc()
        parameters = try checkAllocated(parametersBox, "avcodec_parameters_alloc")
        timeBase = codec.pointee.time_base
        try check(avcodec_parameters_from_context(parameters, codec), "avcodec_parameters_from_context(aac)")
    }

    deinit {
        for packet in packets {
            var box: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&box)
        }
        avcodec_parameters_free(&parametersBox)
    }

    /// Moves every packet the encoder has ready into the track.
    func receive(from codec: UnsafeMutablePointer<AVCodecContext>) throws {
        while true {
            let packet = try checkAllocated(av_packet_alloc(), "av_packet_alloc")
            let status = avcodec_receive_packet(codec, packet)
            guard status >= 0 else {
                var box: UnsafeMutablePointer<AVPacket>? = packet
                av_packet_free(&box)
                if status == ffmpegAgain || status == ffmpegEndOfFile { return }
                try check(status, "avcodec_receive_packet(aac)")
                return
            }
            packets.append(packet)
        }
    }
}
