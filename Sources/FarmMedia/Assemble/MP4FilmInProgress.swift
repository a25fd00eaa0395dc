import CFFmpeg
import FarmCore
import Foundation

/// A film muxed while its parts arrive (``MP4FilmAssembler/begin(format:workingDirectory:)``): each ``append(_:)``
/// encodes the new PCM into AAC, the encoder's state kept from the last, and writes every packet whose place in the
/// file can no longer change into a working file, so that ``finish(_:to:)`` has only the tail left.
///
/// The file is byte-identical to ``MP4FilmAssembler/assemble(_:format:to:)``'s for the same parts: the same
/// packets reach the same muxer in the same order (a packet waits only while the one that decides its place is not
/// known yet). Two things depend on the film's end and are handled so:
/// - Every video decode time depends on the film's decode delay, the largest reorder of any chunk. Muxing starts
///   with the largest so far; a later chunk with a larger one starts the film over with it (the parts so far are
///   read again). That is rare: a film's chunks come from one encoder's settings.
/// - The AAC track's last packets are cut to end at its last sample, which only ``finish(_:to:)`` knows; packets
///   of whole frames never reach past the samples given, so none is cut before.
///
/// Memory stays at a chunk, an audio piece and the few packets waiting for their place. Not thread-safe: one
/// thread at a time calls it.
final class MP4FilmInProgress: FilmInProgress {
    private let format: OutputFormat
    private let audioBitRate: Int
    private let audioCoder: String
    private let workingDirectory: URL
    private var mux: Mux?
    /// The decode delay muxing starts with: the largest of any chunk read so far.
    private var knownDelay: Int64 = 0
    /// Chunk 0 as parsed: every other chunk must match its size, rate and SPS/PPS.
    private var first: ChunkInfo?
    /// Why the film cannot go on: an earlier call failed, or it was finished or discarded.
    private var ended: String?
    /// Times the film started over for a larger decode delay (tests check they exercise it).
    private(set) var restarts = 0

    init(format: OutputFormat, audioBitRate: Int, audioCoder: String, workingDirectory: URL) {
        self.format = format
        self.audioBitRate = audioBitRate
        self.audioCoder = audioCoder
        self.workingDirectory = workingDirectory
    }

    deinit { mux?.remove() }

    func append(_ parts: some FilmParts) throws {
        try whileOpen { try take(parts) }
    }

    func finish(_ parts: some FilmParts, to output: URL) throws {
        try whileOpen {
            try take(parts)
            guard let mux else { throw MediaError.invalidInput("a film needs at least one chunk") }
            try mux.encoder.finish { mux.queueAudio($0) }
            try mux.write(audioDone: true, videoDone: true)
            try mux.writer.finish()
            guard rename(mux.path, output.path) == 0 else {
                throw MediaError.fileSystem(operation: "rename to \(output.path)", path: mux.path,
                                            message: String(cString: strerror(errno)))
            }
            mux.renamed = true
            self.mux = nil
        }
        ended = "it is finished"
    }

    func discard() {
        mux?.remove()
        mux = nil
        ended = ended ?? "it was discarded"
    }

    /// Runs `body` unless the film has ended; any error ends it (its state is then part-way through a part).
    private func whileOpen(_ body: () throws -> Void) throws {
        if let ended { throw MediaError.invalidInput("the film in progress cannot take more parts: \(ended)") }
        do {
            try body()
        } catch {
            discard()
            ended = "an earlier part failed (\(error))"
            throw error
        }
    }

    /// Reads the chunks and audio pieces of `parts` beyond those taken, queues their packets and writes those whose
    /// place is known.
    private func take(_ parts: some FilmParts) throws {
        var mux = self.mux
        if let mux, parts.chunkCount < mux.chunks || parts.audioPieceCount < mux.pieces {
            throw MediaError.invalidInput("the parts hold \(parts.chunkCount) chunks and \(parts.audioPieceCount) "
                                          + "audio pieces; the film has taken \(mux.chunks) and \(mux.pieces) already")
        }
        while (mux?.chunks ?? 0) < parts.chunkCount {
            let index = mux?.chunks ?? 0
            let chunk = try ChunkSequence.read(index, of: parts)
            let info = try ChunkSequence.parse(chunk, index: index, verifyingChecksum: true)
            try ChunkSequence.check(info, index: index, format: format, first: index == 0 ? nil : first)
            if index == 0 { first = info }
            let delay = ChunkSequence.decodeDelay(of: info)
            if let current = mux, delay > current.decodeDelay {
                // Every decode time so far was off by the difference: start over from chunk 0 with this delay.
                current.remove()
                mux = nil
                self.mux = nil
                knownDelay = delay
                restarts += 1
                continue
            }
            let open = try mux ?? Mux(format: format, extradata: info.extradata, decodeDelay: max(knownDelay, delay),
                                      audioBitRate: audioBitRate, audioCoder: audioCoder,
                                      directory: workingDirectory)
            mux = open
            self.mux = open
            try open.queueVideo(chunk, info)
            // The audio that plays with the video so far.
            let needed = format.clock.sample(atFrame: Int(open.frames))
            while open.encoder.taken < needed, open.pieces < parts.audioPieceCount {
                try open.encode(parts)
            }
            try open.write(audioDone: false, videoDone: false)
        }
        guard let mux else { return }
        while mux.pieces < parts.audioPieceCount { try mux.encode(parts) }
        let expected = format.clock.sample(atFrame: Int(mux.frames))
        guard mux.encoder.taken == expected else {
            throw MediaError.invalidInput("the audio so far has \(mux.encoder.taken) samples per channel; the "
                                          + "\(mux.frames) frames so far at \(format.fps) fps need exactly "
                                          + "\(expected) at \(format.sampleRate) Hz")
        }
        try mux.write(audioDone: false, videoDone: false)
    }
}

extension MP4FilmInProgress {
    /// One try at the film with one decode delay: the open muxer, its working file, the AAC encoder and the packets
    /// waiting for their place.
    private final class Mux {
        let writer: MP4Writer
        let path: String
        let encoder: AACEncoder
        let decodeDelay: Int64
        let videoIndex: Int32
        let audioIndex: Int32
        let frameTime: AVRational
        /// Chunks and audio pieces taken, and the frames of those chunks.
        var chunks = 0
        var pieces = 0
        var frames: Int64 = 0
        var renamed = false
        /// Packets not yet written, each stream's in its order; `videoHead`/`audioHead` index the first.
        private var video: [UnsafeMutablePointer<AVPacket>] = []
        private var videoHead = 0
        private var audio: [UnsafeMutablePointer<AVPacket>] = []
        private var audioHead = 0

        init(format: OutputFormat, extradata: Data, decodeDelay: Int64, audioBitRate: Int, audioCoder: String,
             directory: URL) throws {
            self.decodeDelay = decodeDelay
            frameTime = AVRational(num: Int32(format.fps.denominator), den: Int32(format.fps.numerator))
            // The same steps in the same order as MP4FilmAssembler.assemble: the muxer's header must be the same.
            encoder = try AACEncoder(bitRate: audioBitRate, coder: audioCoder, sampleRate: format.sampleRate,
                                     channels: format.channels)
            path = directory.appendingPathComponent(".film-\(UUID().uuidString).partial").path
            writer = try MP4Writer(path: path)
            videoIndex = try writer.addVideoStream(width: format.width, height: format.height, fps: format.fps,
                                                   extradata: extradata)
            audioIndex = try writer.addStream(parameters: encoder.parameters, timeBase: encoder.timeBase)
            do {
                try writer.writeHeader(movieTimescale: MP4Writer.movieTimescale(fps: format.fps,
                                                                                 sampleRate: format.sampleRate))
            } catch {
                unlink(path)
                throw error
            }
        }

        deinit {
            for packet in video[videoHead...] + audio[audioHead...] {
                var unused: UnsafeMutablePointer<AVPacket>? = packet
                av_packet_free(&unused)
            }
        }

        /// Closes the working file and deletes it (unless it became the film).
        func remove() {
            writer.close()
            if !renamed { unlink(path) }
        }

        /// Queues the chunk's packets with film-wide timestamps (``ChunkSequence/timestamps(chunk:position:)``).
        func queueVideo(_ chunk: EncodedChunk, _ info: ChunkInfo) throws {
            try chunk.data.withUnsafeBytes { bytes in
                for (position, stored) in info.packets.enumerated() {
                    var box = av_packet_alloc()
                    let packet = try checkAllocated(box, "av_packet_alloc")
                    let size = stored.byteRange.count
                    guard av_new_packet(packet, Int32(size)) >= 0 else {
                        av_packet_free(&box)
                        throw MediaError.invalidInput("cannot allocate a \(size)-byte packet")
                    }
                    UnsafeMutableRawPointer(packet.pointee.data!)
                        .copyMemory(from: bytes.baseAddress! + stored.byteRange.lowerBound, byteCount: size)
                    packet.pointee.pts = frames + stored.pts
                    packet.pointee.dts = frames + Int64(position) - decodeDelay
                    packet.pointee.duration = 1
                    if stored.isKeyframe { packet.pointee.flags |= AV_PKT_FLAG_KEY }
                    video.append(packet)
                }
            }
            frames += Int64(info.frameCount)
            chunks += 1
        }

        /// Reads the next audio piece and encodes it.
        func encode(_ parts: some FilmParts) throws {
            let piece = try parts.audioPiece(pieces, channels: encoder.channels)
            guard piece.channels == encoder.channels else {
                throw MediaError.invalidInput("audio piece \(pieces) has \(piece.channels) channels, "
                                              + "the film has \(encoder.channels)")
            }
            _ = try encoder.append(piece, endingAt: .max) { queueAudio($0) }
            pieces += 1
        }

        func queueAudio(_ packet: UnsafeMutablePointer<AVPacket>) -> Bool {
            audio.append(packet)
            return true
        }

        /// Writes queued packets in ``MP4FilmAssembler``'s order: before each video packet, every audio packet that
        /// starts no later. A packet waits while the one that decides its place has not been queued: a video packet
        /// for the next audio packet (until the audio is done), an audio packet for a video packet that starts no
        /// earlier (until the video is done).
        func write(audioDone: Bool, videoDone: Bool) throws {
            while true {
                if videoHead < video.count {
                    let next = video[videoHead]
                    if audioHead < audio.count {
                        let sound = audio[audioHead]
                        if av_compare_ts(sound.pointee.dts, encoder.timeBase, next.pointee.dts, frameTime) <= 0 {
                            try writeAudio()
                        } else {
                            try writeVideo()
                        }
                    } else if audioDone {
                        try writeVideo()
                    } else {
                        break
                    }
                } else if videoDone, audioHead < audio.count {
                    try writeAudio()
                } else {
                    break
                }
            }
            // Drop the written slots now and then, so the queues do not grow with the film.
            if videoHead > 256 { video.removeFirst(videoHead); videoHead = 0 }
            if audioHead > 256 { audio.removeFirst(audioHead); audioHead = 0 }
        }

        private func writeVideo() throws {
            var packet: UnsafeMutablePointer<AVPacket>? = video[videoHead]
            videoHead += 1
            defer { av_packet_free(&packet) }
            try writer.write(packet!, stream: videoIndex, timeBase: frameTime)
        }

        private func writeAudio() throws {
            var packet: UnsafeMutablePointer<AVPacket>? = audio[audioHead]
            audioHead += 1
            defer { av_packet_free(&packet) }
            try writer.write(packet!, stream: audioIndex, timeBase: encoder.timeBase)
        }
    }
}
