import Foundation

/// Finds where bytes stop being UTF-8, so a storyboard saved in another encoding is refused with a place to look.
enum UTF8Check {
    /// The first byte that does not start a valid UTF-8 sequence, with its 1-based line and 0-based byte offset;
    /// `nil` when all of `data` is UTF-8.
    static func firstInvalidByte(in data: Data) -> (byte: UInt8, line: Int, offset: Int)? {
        var parser = Unicode.UTF8.ForwardParser()
        var bytes = data.makeIterator()
        var offset = 0, line = 1
        while true {
            switch parser.parseScalar(from: &bytes) {
            case .valid(let encoded):
                if encoded.count == 1, encoded.first == UInt8(ascii: "\n") { line += 1 }
                offset += encoded.count
            case .error:
                return (data[data.startIndex + offset], line, offset)
            case .emptyInput:
                return nil
            }
        }
    }
}
