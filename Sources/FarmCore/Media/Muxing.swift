import Foundation

/// One segment's owned frames, encoded as an independent H.264 chunk that opens with an IDR frame.
///
/// `data` is the chunk in reelfarm's chunk format (see `FarmMedia/ChunkFormat.md`): a small header with the stream
/// parameters and then the packets with their timestamps counted in frames from the chunk's first frame. Chunks of
/// one film concatenate without re-encoding.
public struct EncodedChunk: Sendable, Equatable {
    public var data: Data
    public init(data: Data) { self.data = data }
}

/// Encodes a segment's owned frames into an ``EncodedChunk``.
public protocol ChunkEncoder: Sendable {
    /// - Throws: when the codec refuses the frames (size not as `format`, encoder failure).
    func encode(_ frames: VideoFrames, format: OutputFormat) throws -> EncodedChunk
}

/// Builds the film: concatenates chunks without re-encoding and encodes the whole PCM timeline once.
public protocol FilmAssembler: Sendable {
    /// - Parameters:
    ///   - chunks: every chunk of the film in film order.
    ///   - audio: the film's whole PCM timeline, `format.channels` interleaved.
    ///   - output: the MP4 file to write (replaced atomically when done).
    func assemble(chunks: [EncodedChunk], audio: PCMBuffer, format: OutputFormat, to output: URL) throws
}
