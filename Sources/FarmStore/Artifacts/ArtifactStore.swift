import Crypto
import Foundation

/// Content-addressed files under `<data>/artifacts`: a file's name is the SHA-256 of its bytes.
public struct ArtifactStore: Sendable {
    public let root: URL
    /// Hashes whose files are known to exist (files are never removed), so repeated outputs skip the file system.
    private let known = KnownHashes()

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    /// Hex SHA-256 of `data`.
    public static func digest(_ data: Data) -> String { hexString(SHA256.hash(data: data)) }

    private static func hexString(_ digest: SHA256.Digest) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in digest {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex SHA-256 and size of a file, read in 1 MiB blocks (a film need not fit in memory).
    public static func digest(fileAt url: URL) throws -> (hash: String, size: Int) {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var sha = SHA256()
        var size = 0
        while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty {
            sha.update(data: block)
            size += block.count
        }
        return (hexString(sha.finalize()), size)
    }

    public func url(_ hash: String) -> URL {
        root.appendingPathComponent(String(hash.prefix(2))).appendingPathComponent(hash)
    }

    /// Stores `data` (once: an existing artifact with the same hash is kept) and returns its hash.
    @discardableResult
    public func put(_ data: Data, hash known: String? = nil) throws -> String {
        let hash = known ?? Self.digest(data)
        if self.known.contains(hash) { return hash }
        let target = url(hash)
        if !FileManager.default.fileExists(atPath: target.path) {
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            let temporary = target.appendingPathExtension("tmp-\(UUID().uuidString)")
            try data.write(to: temporary)
            try moveIntoPlace(temporary, target)
        }
        self.known.insert(hash)
        return hash
    }

    /// Moves the file at `file` into the store under `hash` (which the caller has checked).
    public func adopt(_ file: URL, hash: String) throws {
        let target = url(hash)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: target.path) {
            try? FileManager.default.removeItem(at: file)
            return
        }
        try moveIntoPlace(file, target)
    }

    /// Hashes the file at `file` and moves it into the store under that hash.
    /// - Returns: its hash and size.
    @discardableResult
    public func adopt(_ file: URL) throws -> (hash: String, size: Int) {
        let (hash, size) = try Self.digest(fileAt: file)
        try adopt(file, hash: hash)
        return (hash, size)
    }

    public func read(_ hash: String) throws -> Data { try Data(contentsOf: url(hash)) }

    /// Deletes an artifact's file (once nothing in the store refers to it).
    public func remove(_ hash: String) {
        known.remove(hash)
        try? FileManager.default.removeItem(at: url(hash))
    }

    private func moveIntoPlace(_ from: URL, _ to: URL) throws {
        if rename(from.path, to.path) != 0 {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: to.path])
        }
    }
}

/// A bounded set of artifact hashes whose files exist.
final class KnownHashes: @unchecked Sendable {
    private let lock = NSLock()
    private var hashes = Set<String>()
    private let limit = 65_536

    func contains(_ hash: String) -> Bool { lock.withLock { hashes.contains(hash) } }
    func remove(_ hash: String) { lock.withLock { _ = hashes.remove(hash) } }
    func insert(_ hash: String) {
        lock.withLock {
            if hashes.count >= limit { hashes.removeAll(keepingCapacity: true) }  // a bound, not an LRU: a miss costs one stat
            hashes.insert(hash)
        }
    }
}
