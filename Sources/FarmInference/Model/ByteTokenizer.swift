/// The text tokenizer: a BOS token (256) followed by the text's UTF-8 bytes, cut to a maximum length.
///
/// An empty text is the BOS token alone; the sampler's unconditional branch is exactly that.
public enum ByteTokenizer {
    public static let bos = 256

    /// Tokens of `text`, at most `limit` (≥ 1) of them.
    public static func tokens(_ text: String, limit: Int) -> [Int] {
        precondition(limit >= 1)
        return [bos] + text.utf8.prefix(limit - 1).map(Int.init)
    }
}
