import CFFmpeg
import FarmCore
import Foundation

/// libavformat's MP4 muxer, set up for byte-deterministic output (`AVFMT_FLAG_BITEXACT`: no encoder string, zero
/// creation times) with the index moved to the front (`movflags=+faststart`).
///
/// Not thread-safe; lives inside one assembly.
final class MP4Writer {
    private var context: UnsafeMutablePointer<AVFormatContext>?
    private let path: String
    private var headerWritten = false
    private var finished = false

    init(path: String) throws {
        self.path = path
        var created: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&created, nil, "mp4", path), "avformat_alloc_output_context2(mp4)")
        context = created
        created!.pointee.flags |= AVFMT_FLAG_BITEXACT
    }

    deinit { close() }

    /// Closes the file unfinished (if it is open) and frees the muxer; the writer does nothing after.
    func close() {
        guard let context else { return }
        if !finished && context.pointee.pb != nil {
            avio_closep(&context.pointee.pb)
        }
        avformat_free_context(context)
        self.context = nil
    }

    /// Adds an H.264 stream whose packets carry timestamps in frames (time base 1/fps).
    /// - Returns: the stream index.
    func addVideoStream(width: Int, height: Int, fps: Rational, extradata: Data) throws -> Int32 {
        let stream = try checkAllocated(avformat_new_stream(context, nil), "avformat_new_stream(video)")
        let parameters = stream.pointee.codecpar!
        parameters.pointee.codec_type = AVMEDIA_TYPE_VIDEO
        parameters.pointee.codec_id = AV_CODEC_ID_H264
        parameters.pointee.width = Int32(width)
        parameters.pointee.height = Int32(height)
        parameters.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        parameters.pointee.color_range = AVCOL_RANGE_MPEG
        parameters.pointee.color_space = AVCOL_SPC_BT709
        parameters.pointee.color_primaries = AVCOL_PRI_BT709
        parameters.pointee.color_trc = AVCOL_TRC_BT709
        let size = extradata.count
        let buffer = try checkAllocated(av_mallocz(size + Int(AV_INPUT_BUFFER_PADDING_SIZE)), "av_mallocz(extradata)")
        extradata.copyBytes(to: buffer.assumingMemoryBound(to: UInt8.self), count: size)
        parameters.pointee.extradata = buffer.assumingMemoryBound(to: UInt8.self)
        parameters.pointee.extradata_size = Int32(size)
        let rate = AVRational(num: Int32(fps.numerator), den: Int32(fps.denominator))
        stream.pointee.time_base = AVRational(num: rate.den, den: rate.num)
        stream.pointee.avg_frame_rate = rate
        stream.pointee.r_frame_rate = rate
        return stream.pointee.index
    }

    /// Adds a stream with the encoder's parameters.
    /// - Returns: the stream index.
    /// - Parameter frameRate: a video stream's exact frame rate, written as its average and real rate.
    func addStream(parameters: UnsafePointer<AVCodecParameters>, timeBase: AVRational,
                   frameRate: AVRational? = nil) throws -> Int32 {
        let stream = try checkAllocated(avformat_new_stream(context, nil), "avformat_new_stream")
        try check(avcodec_parameters_copy(stream.pointee.codecpar, parameters), "avcodec_parameters_copy")
        stream.pointee.time_base = timeBase
        if let frameRate {
            stream.pointee.avg_frame_rate = frameRate
            stream.pointee.r_frame_rate = frameRate
        }
        return stream.pointee.index
    }

    /// Opens the file and writes the header; the muxer may change each stream's time base here.
    /// - Parameter movieTimescale: ticks per second of the edit lists; it must count every frame and sample
    ///   exactly, or players trim the last frame or sample to the millisecond of the default 1000.
    func writeHeader(movieTimescale: Int32) throws {
        guard let context else { return }
        try check(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open(\(path))")
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "movflags", "+faststart", 0)
        av_dict_set(&options, "movie_timescale", String(movieTimescale), 0)
        try check(avformat_write_header(context, &options), "avformat_write_header(mp4)")
        if let unused = av_dict_get(options, "", nil, AV_DICT_IGNORE_SUFFIX) {
            throw MediaError.invalidInput("the MP4 muxer did not accept option \(String(cString: unused.pointee.key))")
        }
        headerWritten = true
    }

    /// The smallest timescale in which both a frame at `fps` and a sample at `sampleRate` last whole ticks:
    /// lcm(sampleRate, fps numerator) (240 000 for 30000/1001 fps at 48 kHz), or `sampleRate` when that
    /// does not fit 32 bits.
    static func movieTimescale(fps: Rational, sampleRate: Int) -> Int32 {
        var (a, b) = (Int64(sampleRate), fps.numerator)
        while b != 0 { (a, b) = (b, a % b) }
        let lcm = Int64(sampleRate) / a * fps.numerator
        return lcm <= Int64(Int32.max) ? Int32(lcm) : Int32(sampleRate)
    }

    /// Hands `packet` (timestamps in `timeBase`) to the interleaving muxer, which takes its data reference.
    func write(_ packet: UnsafeMutablePointer<AVPacket>, stream index: Int32, timeBase: AVRational) throws {
        guard let context else { return }
        packet.pointee.stream_index = index
        av_packet_rescale_ts(packet, timeBase, context.pointee.streams[Int(index)]!.pointee.time_base)
        try check(av_interleaved_write_frame(context, packet), "av_interleaved_write_frame(stream \(index))")
    }

    /// Flushes the interleaving queue, writes the index (rewriting the file for faststart) and closes the file.
    func finish() throws {
        guard let context, headerWritten else { return }
        try check(av_write_trailer(context), "av_write_trailer(mp4)")
        finished = true
        try check(avio_closep(&context.pointee.pb), "avio_closep(\(path))")
    }
}
