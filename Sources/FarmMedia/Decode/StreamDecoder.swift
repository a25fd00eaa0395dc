import CFFmpeg

/// One opened decoder for one stream of a demuxed file.
///
/// Not thread-safe; lives inside one `FilmDecoder.decode` call.
final class StreamDecoder {
    let streamIndex: Int32
    let context: UnsafeMutablePointer<AVCodecContext>
    /// FFmpeg's short name of the codec (`"h264"`, `"aac"`).
    let codecName: String
    private var contextBox: UnsafeMutablePointer<AVCodecContext>?
    private var frameBox: UnsafeMutablePointer<AVFrame>?
    private let frame: UnsafeMutablePointer<AVFrame>

    /// - Parameter threads: decoder threads, 0 for FFmpeg's choice; output order never depends on it.
    init(stream: UnsafeMutablePointer<AVStream>, threads: Int32) throws {
        streamIndex = stream.pointee.index
        let parameters = stream.pointee.codecpar!
        codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw MediaError.invalidInput("no decoder for \(codecName) (stream \(streamIndex))")
        }
        contextBox = avcodec_alloc_context3(codec)
        context = try checkAllocated(contextBox, "avcodec_alloc_context3(\(codecName) decoder)")
        frameBox = av_frame_alloc()
        frame = try checkAllocated(frameBox, "av_frame_alloc")
        try check(avcodec_parameters_to_context(context, parameters), "avcodec_parameters_to_context(\(codecName))")
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = threads
        try check(avcodec_open2(context, codec, nil), "avcodec_open2(\(codecName) decoder)")
    }

    deinit {
        av_frame_free(&frameBox)
        avcodec_free_context(&contextBox)
    }

    /// Sends `packet` (`nil` to flush) and hands out every frame the decoder has ready.
    func decode(_ packet: UnsafeMutablePointer<AVPacket>?,
                onFrame: (UnsafeMutablePointer<AVFrame>) throws -> Void) throws {
        try check(avcodec_send_packet(context, packet), "avcodec_send_packet(\(codecName))")
        while true {
            let status = avcodec_receive_frame(context, frame)
            if status == ffmpegAgain || status == ffmpegEndOfFile { return }
            try check(status, "avcodec_receive_frame(\(codecName))")
            defer { av_frame_unref(frame) }
            try onFrame(frame)
        }
    }
}
