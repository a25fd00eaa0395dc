import Crypto
import Foundation

/// The digests the protocol uses to check transferred outputs.
public enum Digest {
    private static let hex = Array("0123456789abcdef".utf8)

    /// Lower-case hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in SHA256.hash(data: data) {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
