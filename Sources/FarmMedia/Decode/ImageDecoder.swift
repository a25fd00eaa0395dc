import CFFmpeg
import FarmCore
import Foundation

/// Decodes a still image (PNG, JPEG, anything FFmpeg reads) and scales it to the film's picture size, for keyframe
/// and grid references.
public enum ImageDecoder {
    /// The image at `url` as packed RGB24 of `width × height` (stretched when the aspect differs).
    /// - Throws: ``MediaError`` naming the file when it is missing, not an image, or cannot be decoded.
    public static func decode(_ url: URL, width: Int, height: Int) throws -> StillImage {
        guard width > 0, height > 0 else { throw MediaError.invalidInput("image size \(width)×\(height)") }
        var format: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_open_input(&format, url.path, nil, nil), "avformat_open_input(\(url.path))")
        defer { avformat_close_input(&format) }
        guard let format else { throw MediaError.invalidInput("\(url.path): cannot be opened") }
        try check(avformat_find_stream_info(format, nil), "avformat_find_stream_info(\(url.path))")
        let index = try check(av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0), "\(url.path): no image stream")
        let decoder = try StreamDecoder(stream: format.pointee.streams[Int(index)]!, threads: 1)
        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")
        var image: StillImage?
        let take: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
            if image == nil { image = try scale(frame, width: width, height: height, path: url.path) }
        }
        while image == nil, av_read_frame(format, packet) >= 0 {
            defer { av_packet_unref(packet) }
            if packet.pointee.stream_index == index { try decoder.decode(packet, onFrame: take) }
        }
        if image == nil { try decoder.decode(nil, onFrame: take) }
        guard let image else { throw MediaError.invalidInput("\(url.path): holds no decodable picture") }
        return image
    }

    private static func scale(_ frame: UnsafeMutablePointer<AVFrame>, width: Int, height: Int, path: String) throws -> StillImage {
        let source = AVPixelFormat(rawValue: frame.pointee.format)
        let flags = SWS_BILINEAR | SWS_BITEXACT | SWS_ACCURATE_RND
        let scaler = try checkAllocated(
            sws_getContext(frame.pointee.width, frame.pointee.height, source, Int32(width), Int32(height), AV_PIX_FMT_RGB24,
                           flags, nil, nil, nil),
            "sws_getContext(\(path) → rgb24 \(width)×\(height))")
        defer { sws_freeContext(scaler) }
        var rgb = [UInt8](repeating: 0, count: width * height * 3 + 64)  // slack: swscale may write a little past
        var strides: [Int32] = [Int32(width * 3), 0, 0, 0]
        var sourcePlanes = frame.pointee.data
        var sourceStrides = frame.pointee.linesize
        let rows = rgb.withUnsafeMutableBufferPointer { out -> Int32 in
            var planes: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
            return withUnsafePointer(to: &sourcePlanes) { sp in
                sp.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { sp in
                    withUnsafePointer(to: &sourceStrides) { ss in
                        ss.withMemoryRebound(to: Int32.self, capacity: 8) { ss in
                            sws_scale(scaler, sp, ss, 0, frame.pointee.height, &planes, &strides)
                        }
                    }
                }
            }
        }
        try check(rows, "sws_scale(\(path) → rgb24)")
        return StillImage(width: width, height: height, rgb: Array(rgb.prefix(width * height * 3)))
    }
}
