import Crypto
import Foundation

/// The digests the protocol uses to check transferred outputs.
public enum Digest {
    /// Lower-case hex SHA-256 of `data`.
    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
