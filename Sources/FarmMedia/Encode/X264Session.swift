import CFFmpeg
import FarmCore
import Foundation

/// One libx264 encoder plus the RGB24 → yuv420p converter feeding it, for the frames of one chunk.
///
/// Not thread-safe; lives inside one `H264ChunkEncoder.encode` call.
final class X264Session {
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private let scaler: OpaquePointer
    private let width: Int
    private let height: Int

    /// SPS and PPS (Annex B) from the encoder's global header.
    let extradata: Data

    /// - Parameter x264Parameters: `x264-params`, applied after preset and crf.
    init(width: Int, height: Int, fps: Rational, crf: Int, preset: String, x264Parameters: String) throws {
        self.width = width
        self.height = height
        guard let encoder = avcodec_find_encoder_by_name("libx264") else {
            throw MediaError.invalidInput("FFmpeg was built without the libx264 encoder")
        }
        let context = try checkAllocated(avcodec_alloc_context3(encoder), "avcodec_alloc_context3(libx264)")
        codec = context
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        context.pointee.time_base = AVRational(num: Int32(fps.denominator), den: Int32(fps.numerator))
        context.pointee.framerate = AVRational(num: Int32(fps.numerator), den: Int32(fps.denominator))
        let keyint = H264ChunkEncoder.keyframeInterval(fps: fps)
        context.pointee.gop_size = keyint
        context.pointee.flags |= CFFmpeg_AV_CODEC_FLAG_CLOSED_GOP() | AV_CODEC_FLAG_GLOBAL_HEADER
            | AV_CODEC_FLAG_BITEXACT
        context.pointee.thread_count = 1
        // Tagged as what the converter below produces: BT.709, limited range.
        context.pointee.color_range = AVCOL_RANGE_MPEG
        context.pointee.colorspace = AVCOL_SPC_BT709
        context.pointee.color_primaries = AVCOL_PRI_BT709
        context.pointee.color_trc = AVCOL_TRC_BT709
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "preset", preset, 0)
        av_dict_set(&options, "crf", String(crf), 0)
        av_dict_set(&options, "x264-params", x264Parameters, 0)
        try check(avcodec_open2(context, encoder, &options), "avcodec_open2(libx264, preset \(preset), crf \(crf))")
        if let unused = av_dict_get(options, "", nil, AV_DICT_IGNORE_SUFFIX) {
            throw MediaError.invalidInput("libx264 did not accept option \(String(cString: unused.pointee.key))")
        }
        guard let header = context.pointee.extradata, context.pointee.extradata_size > 0 else {
            throw MediaError.invalidInput("libx264 produced no global header (SPS/PPS)")
        }
        extradata = Data(bytes: header, count: Int(context.pointee.extradata_size))

        let picture = try checkAllocated(av_frame_alloc(), "av_frame_alloc")
        frame = picture
        picture.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        picture.pointee.width = Int32(width)
        picture.pointee.height = Int32(height)
        picture.pointee.color_range = AVCOL_RANGE_MPEG
        picture.pointee.colorspace = AVCOL_SPC_BT709
        try check(av_frame_get_buffer(picture, 0), "av_frame_get_buffer(\(width)x\(height) yuv420p)")
        packet = try checkAllocated(av_packet_alloc(), "av_packet_alloc")

        // BITEXACT + ACCURATE_RND: swscale's SIMD paths are not bit-exact across CPUs otherwise.
        let flags = SWS_BILINEAR | SWS_BITEXACT | SWS_ACCURATE_RND
        scaler = try checkAllocated(
            sws_getContext(Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                           AV_PIX_FMT_YUV420P, flags, nil, nil, nil),
            "sws_getContext(rgb24 → yuv420p)")
        let fullRange: Int32 = 1
        let limitedRange: Int32 = 0
        try check(sws_setColorspaceDetails(scaler, sws_getCoefficients(SWS_CS_DEFAULT), fullRange,
                                           sws_getCoefficients(SWS_CS_ITU709), limitedRange, 0, 1 << 16, 1 << 16),
                  "sws_setColorspaceDetails(BT.709)")
    }

    deinit {
        sws_freeContext(scaler)
        av_packet_free(&packet)
        av_frame_free(&frame)
        avcodec_free_context(&codec)
    }

    /// Converts one packed RGB24 frame and sends it to the encoder; hands out any packets that are ready.
    func send(rgb: UnsafePointer<UInt8>, pts: Int64, to sink: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
        guard let frame else { return }
        try check(av_frame_make_writable(frame), "av_frame_make_writable")
        var source: [UnsafePointer<UInt8>?] = [rgb, nil, nil, nil]
        var sourceStride: [Int32] = [Int32(width * 3), 0, 0, 0]
        var planes = frame.pointee.data
        var strides = frame.pointee.linesize
        let rows = withUnsafePointer(to: &planes) { planes in
            planes.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { planes in
                withUnsafePointer(to: &strides) { strides in
                    strides.withMemoryRebound(to: Int32.self, capacity: 8) { strides in
                        sws_scale(scaler, &source, &sourceStride, 0, Int32(height), planes, strides)
                    }
                }
            }
        }
        try check(rows, "sws_scale(rgb24 → yuv420p)")
        frame.pointee.pts = pts
        try check(avcodec_send_frame(codec, frame), "avcodec_send_frame(libx264, pts \(pts))")
        try drain(to: sink)
    }

    /// Flushes the encoder and hands out the packets it still holds.
    func finish(to sink: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame(libx264, flush)")
        try drain(to: sink)
    }

    private func drain(to sink: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
        guard let packet else { return }
        while true {
            let status = avcodec_receive_packet(codec, packet)
            if status == ffmpegAgain || status == ffmpegEndOfFile { return }
            try check(status, "avcodec_receive_packet(libx264)")
            defer { av_packet_unref(packet) }
            try sink(packet)
        }
    }
}
