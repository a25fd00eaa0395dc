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

/// A film's parts in film order, handed to an assembler one at a time so that a film of any length is never in
/// memory whole: the farm reads them from its artifact files, a local render from memory.
///
/// An assembler may read a chunk more than once (once to check how the chunks fit together, once to mux it) and
/// reads the audio from a thread of its own, so implementations must be safe to call from two threads.
public protocol FilmParts: Sendable {
    /// How many chunks the film has.
    var chunkCount: Int { get }
    /// Chunk `index` (0 ..< ``chunkCount``).
    func chunk(_ index: Int) throws -> EncodedChunk
    /// How many pieces the PCM timeline comes in (not necessarily one per chunk).
    var audioPieceCount: Int { get }
    /// Audio piece `index`, `channels` interleaved; the pieces laid end to end are the film's PCM timeline.
    func audioPiece(_ index: Int, channels: Int) throws -> PCMBuffer
    /// Samples per channel of all pieces together, known before any is read: the encoder ends the track there,
    /// and the assembler checks it against the video's length before it starts.
    func audioFrameCount(channels: Int) throws -> Int
}

/// A film whose chunks and PCM are already in memory.
public struct FilmInMemory: FilmParts {
    public var chunks: [EncodedChunk]
    public var audio: [PCMBuffer]

    /// - Parameters:
    ///   - chunks: every chunk of the film in film order.
    ///   - audio: the film's PCM timeline in pieces laid end to end (one piece is fine).
    public init(chunks: [EncodedChunk], audio: [PCMBuffer]) {
        self.chunks = chunks
        self.audio = audio
    }

    public var chunkCount: Int { chunks.count }
    public func chunk(_ index: Int) -> EncodedChunk { chunks[index] }
    public var audioPieceCount: Int { audio.count }

    public func audioPiece(_ index: Int, channels: Int) -> PCMBuffer { audio[index] }

    /// The pieces' own lengths (an assembler refuses a piece whose channel count is not the film's).
    public func audioFrameCount(channels: Int) -> Int { audio.reduce(0) { $0 + $1.frameCount } }
}

/// Builds the film: concatenates chunks without re-encoding and encodes the whole PCM timeline once.
public protocol FilmAssembler: Sendable {
    /// - Parameters:
    ///   - parts: the film's chunks and PCM timeline (`format.channels` interleaved).
    ///   - output: the MP4 file to write (replaced atomically when done).
    func assemble(_ parts: some FilmParts, format: OutputFormat, to output: URL) throws

    /// Starts a film assembled while its parts arrive in film order (a farm's segments as they finish), so that
    /// when the last part lands only the tail is left; the film it writes is byte-identical to
    /// ``assemble(_:format:to:)``'s.
    /// - Parameter workingDirectory: where the film in progress keeps its working file, on the output's file system.
    /// - Returns: `nil` when this assembler writes films only whole.
    /// - Throws: when `format` cannot be assembled.
    func begin(format: OutputFormat, workingDirectory: URL) throws -> (any FilmInProgress)?

    /// Reads and checks one chunk as this assembler will join it (structure, checksum, timestamps), so that a farm can
    /// refuse a bad chunk when it arrives instead of at assembly.
    /// - Throws: when the chunk is corrupt, naming what is wrong.
    func inspect(_ chunk: EncodedChunk) throws -> ChunkSummary
}

/// A film being assembled while its parts arrive (``FilmAssembler/begin(format:workingDirectory:)``). Each call is
/// handed the film so far as ``FilmParts``: the parts given before, unchanged, and maybe more; it reads only the new
/// ones (and the earlier ones again only when it must start over). The audio pieces must end where the chunks end.
///
/// Not thread-safe: one thread at a time calls it. After an error it takes nothing more (discard it).
public protocol FilmInProgress: AnyObject {
    /// Takes the parts of `parts` beyond those already taken.
    /// - Throws: what ``FilmAssembler/assemble(_:format:to:)`` throws for such parts, when they are refused.
    func append(_ parts: some FilmParts) throws
    /// Takes the rest of `parts`, the whole film, and writes the film to `output` (replaced atomically).
    func finish(_ parts: some FilmParts, to output: URL) throws
    /// Abandons the film and deletes its working file.
    func discard()
}

/// What a checked chunk holds, as far as joining it to a film's other chunks goes.
public struct ChunkSummary: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var fps: Rational
    public var frameCount: Int
    /// The codec's global header (H.264 SPS/PPS): every chunk of one film must carry identical bytes.
    public var parameters: Data

    public init(width: Int, height: Int, fps: Rational, frameCount: Int, parameters: Data) {
        self.width = width
        self.height = height
        self.fps = fps
        self.frameCount = frameCount
        self.parameters = parameters
    }
}

extension FilmAssembler {
    /// Writes films only whole.
    public func begin(format: OutputFormat, workingDirectory: URL) throws -> (any FilmInProgress)? { nil }

    /// Assembles a film whose chunks and whole PCM timeline are in memory.
    public func assemble(chunks: [EncodedChunk], audio: PCMBuffer, format: OutputFormat, to output: URL) throws {
        try assemble(FilmInMemory(chunks: chunks, audio: [audio]), format: format, to: output)
    }
}
