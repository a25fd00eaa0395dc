/// What the film looks and sounds like: picture size, exact frame rate and the audio layout.
public struct OutputFormat: Hashable, Sendable, Codable {
    public var width: Int
    public var height: Int
    public var fps: Rational
    public var sampleRate: Int
    public var channels: Int

    public init(width: Int, height: Int, fps: Rational, sampleRate: Int, channels: Int) {
        self.width = width
        self.height = height
        self.fps = fps
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// The clock that maps this format's frames to its samples.
    public var clock: SampleClock { SampleClock(fps: fps, sampleRate: sampleRate) }

    enum CodingKeys: String, CodingKey { case width, height, fps, sampleRate = "sample_rate", channels }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        width = try c.decode(Int.self, forKey: .width)
        height = try c.decode(Int.self, forKey: .height)
        let text = try c.decode(String.self, forKey: .fps)
        guard let fps = Rational(parsing: text), fps.isPositive else {
            throw DecodingError.dataCorruptedError(forKey: .fps, in: c, debugDescription: "bad fps \(text)")
        }
        self.fps = fps
        sampleRate = try c.decode(Int.self, forKey: .sampleRate)
        channels = try c.decode(Int.self, forKey: .channels)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
        try c.encode(fps.description, forKey: .fps)
        try c.encode(sampleRate, forKey: .sampleRate)
        try c.encode(channels, forKey: .channels)
    }
}
