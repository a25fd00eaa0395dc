import FarmCore
import FarmStore
import Foundation

/// A stored job's film parts, read from the artifact store one segment at a time as the assembler asks for them,
/// so the coordinator never holds a whole film's chunks and PCM in memory.
///
/// Every read is checked against the artifact's name (its SHA-256): a file damaged or gone since its result was
/// accepted fails the assembly with the segment named, instead of going into a film, and the coordinator runs that
/// segment again (``Coordinator/rerunDamaged(_:)``).
struct ArtifactFilm: FilmParts {
    /// Each segment's task key and its chunk and PCM artifact hashes, in film order.
    let segments: [(key: String, chunk: String, audio: String)]
    let artifacts: ArtifactStore
    /// Every damaged artifact found, whatever error the assembler wraps it in.
    let damage = DamageLog()

    var chunkCount: Int { segments.count }
    var audioPieceCount: Int { segments.count }

    func chunk(_ index: Int) throws -> EncodedChunk {
        EncodedChunk(data: try read(segments[index].chunk, output: "chunk", of: index))
    }

    func audioPiece(_ index: Int, channels: Int) throws -> PCMBuffer {
        try PCMCodec.decode(try read(segments[index].audio, output: "audio", of: index), channels: channels)
    }

    /// From the files' sizes, without reading them.
    func audioFrameCount(channels: Int) throws -> Int {
        let frameBytes = 4 * channels
        return try segments.indices.reduce(0) { total, index in
            let hash = segments[index].audio
            let size: Int
            do {
                let attributes = try FileManager.default.attributesOfItem(atPath: artifacts.url(hash).path)
                size = (attributes[.size] as? NSNumber)?.intValue ?? -1
            } catch {
                throw damaged(hash, output: "audio", of: index, "cannot be read: \(error.localizedDescription)")
            }
            guard size >= 0, size % frameBytes == 0 else {
                throw damaged(hash, output: "audio", of: index,
                              "is \(size) bytes, not whole frames of \(channels) channels")
            }
            return total + size / frameBytes
        }
    }

    private func read(_ hash: String, output: String, of index: Int) throws -> Data {
        let data: Data
        do {
            data = try artifacts.read(hash)
        } catch {
            throw damaged(hash, output: output, of: index, "cannot be read: \(error.localizedDescription)")
        }
        guard ArtifactStore.digest(data) == hash else {
            throw damaged(hash, output: output, of: index, "no longer hashes to its name (damaged on disk)")
        }
        return data
    }

    /// Records the damage and returns it to throw.
    private func damaged(_ hash: String, output: String, of index: Int, _ problem: String) -> DamagedArtifact {
        damage.record(DamagedArtifact(segment: segments[index].key, hash: hash, output: output,
                                      path: artifacts.url(hash).path, problem: problem))
    }
}

/// A stored output of a finished segment that is not what its result delivered.
struct DamagedArtifact: Error, CustomStringConvertible {
    var segment: String
    var hash: String
    var output: String
    var path: String
    var problem: String
    var description: String { "segment \(segment): its \(output) artifact \(path) \(problem)" }
}

/// The damaged artifacts an assembly ran into (read from the muxing and the audio threads).
final class DamageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var found: [DamagedArtifact] = []

    func record(_ damage: DamagedArtifact) -> DamagedArtifact {
        lock.withLock { found.append(damage) }
        return damage
    }

    var all: [DamagedArtifact] { lock.withLock { found } }
}
