import CFFmpeg
import FarmCore
import Foundation

/// Encodes a segment's frames with libx264 into one closed-GOP chunk that opens with an IDR frame.
///
/// Output is byte-deterministic: the same frames, format and settings give the same chunk on every run and every
/// x86-64 machine with the same libx264 and FFmpeg builds (one encoder thread, bit-exact colour conversion, x264
/// held to SSE2 code, which decides exactly as its C code does). Chunks of one film share identical SPS/PPS, so
/// they concatenate without re-encoding. B-frames are used; the assembler derives film-wide decode times from
/// decode order.
public struct H264ChunkEncoder: ChunkEncoder {
    /// x264's constant rate factor (0–51, lower is better).
    public let crf: Int
    /// x264's speed preset (`"ultrafast"` … `"placebo"`).
    public let preset: String
    /// Extra x264 options appended last (`":key=value…"`); tests use it to compare against x264's C code.
    var x264Overrides = ""

    /// - Parameters:
    ///   - crf: x264 constant rate factor.
    ///   - preset: x264 speed preset.
    public init(crf: Int = 20, preset: String = "veryfast") {
        self.crf = crf
        self.preset = preset
    }

    /// Encodes `frames` as one chunk in reelfarm's chunk format.
    /// - Throws: ``MediaError/invalidInput(_:)`` when the frames do not match `format` or the size is odd;
    ///   ``MediaError/ffmpeg(operation:code:message:)`` when libx264 or swscale fail.
    public func encode(_ frames: VideoFrames, format: OutputFormat) throws -> EncodedChunk {
        try checkInput(frames, format: format)
        let parameters = Self.deterministicParameters + x264Overrides
        let session = try X264Session(width: frames.width, height: frames.height, fps: format.fps, crf: crf,
                                      preset: preset, x264Parameters: parameters)
        let extradata = session.extradata
        var writer = extradata.withUnsafeBytes {
            ChunkWriter(width: frames.width, height: frames.height, fps: format.fps, frameCount: frames.count,
                        extradata: $0, expectedPayload: frames.count * frames.bytesPerFrame / 40)
        }
        let sink: (UnsafeMutablePointer<AVPacket>) -> Void = { packet in
            let keyframe = packet.pointee.flags & AV_PKT_FLAG_KEY != 0
            writer.appendPacket(pts: packet.pointee.pts, dts: packet.pointee.dts, keyframe: keyframe,
                                bytes: UnsafeRawBufferPointer(start: packet.pointee.data,
                                                              count: Int(packet.pointee.size)))
        }
        try frames.rgb.withUnsafeBufferPointer { rgb in
            for index in 0 ..< frames.count {
                try session.send(rgb: rgb.baseAddress! + index * frames.bytesPerFrame, pts: Int64(index),
                                 to: sink)
            }
        }
        try session.finish(to: sink)
        return EncodedChunk(data: writer.finish())
    }

    private func checkInput(_ frames: VideoFrames, format: OutputFormat) throws {
        guard frames.width == format.width, frames.height == format.height else {
            throw MediaError.invalidInput("frames are \(frames.width)x\(frames.height), "
                                          + "format says \(format.width)x\(format.height)")
        }
        guard frames.width % 2 == 0, frames.height % 2 == 0 else {
            throw MediaError.invalidInput("frame size \(frames.width)x\(frames.height) must be even for 4:2:0")
        }
        guard frames.count > 0 else { throw MediaError.invalidInput("a chunk needs at least one frame") }
        let limit = Int64(Int32.max)
        guard format.fps.isPositive, format.fps.numerator <= limit, format.fps.denominator <= limit,
              frames.width <= 16384, frames.height <= 16384 else {
            throw MediaError.invalidInput("fps \(format.fps) or size \(frames.width)x\(frames.height) out of range")
        }
    }
}

extension H264ChunkEncoder {
    /// The GOP length: ten seconds of frames, a function of the frame rate alone because x264 sizes SPS fields
    /// (`log2_max_frame_num`) from it and every chunk of a film must carry identical SPS bytes.
    static func keyframeInterval(fps: Rational) -> Int32 {
        Int32(clamping: max(1, (Rational(10) * fps).roundedHalfUp))
    }

    /// x264 settings that make the output independent of the machine: one thread for slices, frames and
    /// lookahead (x264's output depends on the thread count), no open GOP, and on x86-64 the SIMD code held to
    /// SSE2 (`asm` = MMX | MMX2 | SSE | SSE2, which every x86-64 CPU has).
    ///
    /// Why the SIMD cap: from SSSE3 on, x264 picks some modes differently from its C code (measured with
    /// libx264 0.164: SSSE3 through AVX-512 give one byte stream, C and SSE2 another), so without the cap a
    /// chunk would depend on the CPU that encoded it. The cap costs about 15 % of encoding speed.
    static var deterministicParameters: String {
        #if arch(x86_64)
        "threads=1:lookahead-threads=1:sliced-threads=0:open-gop=0:asm=15"
        #else
        "threads=1:lookahead-threads=1:sliced-threads=0:open-gop=0"
        #endif
    }
}
