import CFFmpeg
import FarmCore
import Foundation

/// Small pictures of a segment for the dashboard: the first and last frames of its chunk (the frames it owns in the
/// film), decoded from the chunk itself and written as PNG.
public enum ChunkThumbnails {
    /// The chunk's first and last frames in presentation order, scaled to `width` pixels wide (the height keeps the
    /// aspect, rounded to even; never wider than the chunk), as PNG files' bytes.
    /// - Throws: ``MediaError/corruptChunk(reason:)`` for a chunk that does not parse, ``MediaError`` when it
    ///   does not decode to both frames.
    public static func make(_ chunk: EncodedChunk, width: Int = 192) throws -> (first: Data, last: Data) {
        let info = try ChunkInfo.parse(chunk)
        guard width > 0 else { throw MediaError.invalidInput("thumbnail width \(width)") }
        let outWidth = min(width, info.width) & ~1
        let outHeight = max(2, (info.height * outWidth / max(info.width, 1)) & ~1)
        guard outWidth >= 2 else { throw MediaError.invalidInput("a chunk \(info.width) pixels wide") }
        let lastPTS = Int64(info.frameCount - 1)

        guard let codec = avcodec_find_decoder(AV_CODEC_ID_H264) else {
            throw MediaError.invalidInput("this FFmpeg has no H.264 decoder")
        }
        var contextBox = avcodec_alloc_context3(codec)
        defer { avcodec_free_context(&contextBox) }
        let context = try checkAllocated(contextBox, "avcodec_alloc_context3(h264 decoder)")
        let padding = Int(AV_INPUT_BUFFER_PADDING_SIZE)
        let extra = try checkAllocated(av_mallocz(info.extradata.count + padding), "av_mallocz(extradata)")
        info.extradata.copyBytes(to: extra.assumingMemoryBound(to: UInt8.self), count: info.extradata.count)
        context.pointee.extradata = extra.assumingMemoryBound(to: UInt8.self)
        context.pointee.extradata_size = Int32(info.extradata.count)
        context.pointee.thread_count = 1
        try check(avcodec_open2(context, codec, nil), "avcodec_open2(h264 decoder)")

        var frameBox = av_frame_alloc()
        defer { av_frame_free(&frameBox) }
        let frame = try checkAllocated(frameBox, "av_frame_alloc")
        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")

        var first: Data?
        var last: Data?
        func drain() throws {
            while true {
                let status = avcodec_receive_frame(context, frame)
                if status == ffmpegAgain || status == ffmpegEndOfFile { return }
                try check(status, "avcodec_receive_frame(h264)")
                defer { av_frame_unref(frame) }
                let pts = frame.pointee.best_effort_timestamp
                if pts == 0, first == nil { first = try png(frame, width: outWidth, height: outHeight) }
                if pts == lastPTS, last == nil { last = try png(frame, width: outWidth, height: outHeight) }
            }
        }
        try chunk.data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            for p in info.packets {
                try check(av_new_packet(packet, Int32(p.byteRange.count)), "av_new_packet")
                defer { av_packet_unref(packet) }
                UnsafeMutableRawBufferPointer(start: packet.pointee.data, count: p.byteRange.count)
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[p.byteRange]))
                packet.pointee.pts = p.pts
                packet.pointee.dts = p.dts
                if p.isKeyframe { packet.pointee.flags |= AV_PKT_FLAG_KEY }
                try check(avcodec_send_packet(context, packet), "avcodec_send_packet(h264)")
                try drain()
            }
        }
        try check(avcodec_send_packet(context, nil), "avcodec_send_packet(h264, flush)")
        try drain()
        guard let first, let last else {
            throw MediaError.invalidInput("the chunk's \(info.frameCount) frames did not decode to a first and a last")
        }
        return (first, last)
    }

    /// One decoded frame scaled to RGB24 `width × height` and encoded as PNG.
    private static func png(_ source: UnsafeMutablePointer<AVFrame>, width: Int, height: Int) throws -> Data {
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
            throw MediaError.invalidInput("this FFmpeg has no PNG encoder")
        }
        var contextBox = avcodec_alloc_context3(codec)
        defer { avcodec_free_context(&contextBox) }
        let context = try checkAllocated(contextBox, "avcodec_alloc_context3(png)")
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = AV_PIX_FMT_RGB24
        context.pointee.time_base = AVRational(num: 1, den: 1)
        try check(avcodec_open2(context, codec, nil), "avcodec_open2(png)")

        var pictureBox = av_frame_alloc()
        defer { av_frame_free(&pictureBox) }
        let picture = try checkAllocated(pictureBox, "av_frame_alloc")
        picture.pointee.width = Int32(width)
        picture.pointee.height = Int32(height)
        picture.pointee.format = AV_PIX_FMT_RGB24.rawValue
        try check(av_frame_get_buffer(picture, 0), "av_frame_get_buffer(rgb24)")

        let scaler = try checkAllocated(
            sws_getContext(source.pointee.width, source.pointee.height, AVPixelFormat(rawValue: source.pointee.format),
                           Int32(width), Int32(height), AV_PIX_FMT_RGB24, SWS_BILINEAR, nil, nil, nil),
            "sws_getContext(thumbnail \(width)×\(height))")
        defer { sws_freeContext(scaler) }
        let rows = withUnsafePointer(to: &source.pointee.data) { sp in
            sp.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { sp in
                withUnsafePointer(to: &source.pointee.linesize) { ss in
                    ss.withMemoryRebound(to: Int32.self, capacity: 8) { ss in
                        withUnsafePointer(to: &picture.pointee.data) { dp in
                            dp.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dp in
                                withUnsafePointer(to: &picture.pointee.linesize) { ds in
                                    ds.withMemoryRebound(to: Int32.self, capacity: 8) { ds in
                                        sws_scale(scaler, sp, ss, 0, source.pointee.height, dp, ds)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        try check(rows, "sws_scale(thumbnail)")

        var packetBox = av_packet_alloc()
        defer { av_packet_free(&packetBox) }
        let packet = try checkAllocated(packetBox, "av_packet_alloc")
        try check(avcodec_send_frame(context, picture), "avcodec_send_frame(png)")
        try check(avcodec_receive_packet(context, packet), "avcodec_receive_packet(png)")
        defer { av_packet_unref(packet) }
        return Data(bytes: packet.pointee.data, count: Int(packet.pointee.size))
    }
}
