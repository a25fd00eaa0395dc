/// A safetensors file (or the weights in it) that cannot be used, with what was wrong and where.
public struct SafetensorsError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem it is; the description says the details.
    public enum Kind: Hashable, Sendable {
        /// The file does not exist or cannot be read.
        case missingFile
        /// The file ends before the header length or before a tensor's data.
        case truncated
        /// The header length points past the end of the file.
        case headerPastFile
        /// The header is not the JSON object safetensors prescribes.
        case badHeader
        /// A tensor's dtype is not one this reader converts (F32, F16, BF16).
        case unknownDType
        /// A tensor's byte range does not match its shape and dtype, or overlaps another.
        case badOffsets
        /// A tensor the model needs is absent.
        case missingTensor
        /// A tensor has a different shape than the model needs, or is not one of the model's tensors.
        case shapeMismatch
        /// The file was made for another model configuration.
        case configMismatch
        /// The file could not be written.
        case writeFailed
    }

    public var kind: Kind
    /// The file the problem is in.
    public var path: String
    public var message: String

    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
