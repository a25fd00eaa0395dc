import CFFmpeg

/// Copies a decoded picture's luma plane into a tight `width · height` array.
///
/// Pictures whose first plane already is 8-bit luma (planar YUV, NV12, gray) are copied row by row; anything
/// else goes through swscale to GRAY8.
final class LumaExtractor {
    private var scaler: OpaquePointer?
    private var scalerKey: (width: Int32, height: Int32, format: Int32) = (0, 0, -1)

    private static let lumaFirstFormats: Set<Int32> = [
        AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV444P,
        AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUV440P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUV411P, AV_PIX_FMT_YUV410P,
        AV_PIX_FMT_NV12, AV_PIX_FMT_NV21, AV_PIX_FMT_GRAY8, AV_PIX_FMT_YUVA420P,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    deinit {
        sws_freeContext(scaler)
    }

    func luma(of frame: UnsafeMutablePointer<AVFrame>) throws -> [UInt8] {
        let width = Int(frame.pointee.width)
        let height = Int(frame.pointee.height)
        if Self.lumaFirstFormats.contains(frame.pointee.format) {
            return Self.copyPlane(frame.pointee.data.0!, stride: Int(frame.pointee.linesize.0), width: width,
                                  height: height)
        }
        let scaler = try converter(for: frame)
        return try [UInt8](unsafeUninitializedCapacity: width * height) { buffer, count in
            var destination: [UnsafeMutablePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var destinationStride: [Int32] = [Int32(width), 0, 0, 0]
            var planes = frame.pointee.data
            var strides = frame.pointee.linesize
            let rows = withUnsafePointer(to: &planes) { planes in
                planes.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { planes in
                    withUnsafePointer(to: &strides) { strides in
                        strides.withMemoryRebound(to: Int32.self, capacity: 8) { strides in
                            sws_scale(scaler, planes, strides, 0, Int32(height), &destination, &destinationStride)
                        }
                    }
                }
            }
            try check(rows, "sws_scale(→ gray8)")
            count = width * height
        }
    }

    private func converter(for frame: UnsafeMutablePointer<AVFrame>) throws -> OpaquePointer {
        let key = (frame.pointee.width, frame.pointee.height, frame.pointee.format)
        if let scaler, scalerKey == key { return scaler }
        sws_freeContext(scaler)
        scaler = sws_getContext(key.0, key.1, AVPixelFormat(rawValue: key.2), key.0, key.1, AV_PIX_FMT_GRAY8,
                                SWS_POINT, nil, nil, nil)
        scalerKey = key
        return try checkAllocated(scaler, "sws_getContext(→ gray8)")
    }

    private static func copyPlane(_ plane: UnsafeMutablePointer<UInt8>, stride: Int, width: Int,
                                  height: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: width * height) { buffer, count in
            for row in 0 ..< height {
                (buffer.baseAddress! + row * width).update(from: plane + row * stride, count: width)
            }
            count = width * height
        }
    }
}
