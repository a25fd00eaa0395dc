/// One still picture: packed 8-bit RGB, row-major, no padding (a keyframe or a grid reference at the film's size).
public struct StillImage: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public let rgb: [UInt8]

    public init(width: Int, height: Int, rgb: [UInt8]) {
        precondition(rgb.count == width * height * 3, "StillImage: \(rgb.count) bytes for \(width)×\(height)")
        self.width = width
        self.height = height
        self.rgb = rgb
    }
}

/// A still picture pinned to a global frame: the model holds the latent of that frame's step to the image's.
public struct PinnedImage: Hashable, Sendable {
    public var frame: Int
    public var image: StillImage

    public init(frame: Int, image: StillImage) {
        self.frame = frame
        self.image = image
    }
}
