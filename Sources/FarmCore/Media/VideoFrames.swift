/// A run of consecutive RGB frames: packed 8-bit R, G, B, row-major, no padding, frame after frame.
public struct VideoFrames: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var count: Int
    /// `count · height · width · 3` bytes.
    public private(set) var rgb: [UInt8]

    public init(width: Int, height: Int, count: Int = 0, rgb: [UInt8]? = nil) {
        precondition(width > 0 && height > 0 && count >= 0)
        self.width = width
        self.height = height
        self.count = count
        self.rgb = rgb ?? [UInt8](repeating: 0, count: count * width * height * 3)
        precondition(self.rgb.count == count * width * height * 3, "VideoFrames: pixel data does not match size")
    }

    public var bytesPerFrame: Int { width * height * 3 }

    /// Appends one frame of `bytesPerFrame` bytes.
    public mutating func append(frame: [UInt8]) {
        precondition(frame.count == bytesPerFrame)
        rgb.append(contentsOf: frame)
        count += 1
    }

    /// Appends one frame that `fill` writes in place (the buffer starts zeroed).
    public mutating func appendFrame(_ fill: (UnsafeMutableBufferPointer<UInt8>) -> Void) {
        let start = rgb.count, size = bytesPerFrame
        rgb.append(contentsOf: repeatElement(0, count: bytesPerFrame))
        rgb.withUnsafeMutableBufferPointer { all in
            fill(UnsafeMutableBufferPointer(rebasing: all[start ..< start + size]))
        }
        count += 1
    }

    /// The bytes of frame `index`.
    public func frame(_ index: Int) -> ArraySlice<UInt8> {
        rgb[index * bytesPerFrame ..< (index + 1) * bytesPerFrame]
    }
}

/// Interleaved 32-bit float PCM in [-1, 1]: `frames · channels` values.
public struct PCMBuffer: Sendable, Equatable {
    public let channels: Int
    public var samples: [Float]

    public init(channels: Int, samples: [Float] = []) {
        precondition(channels > 0 && samples.count % channels == 0)
        self.channels = channels
        self.samples = samples
    }

    /// Samples per channel.
    public var frameCount: Int { samples.count / channels }
}
