import FarmCore

/// One decoded picture's luma plane, handed out by ``FilmDecoder`` in presentation order.
public struct DecodedFrame: Sendable {
    /// 0-based position in presentation order.
    public var index: Int
    public var width: Int
    public var height: Int
    /// The Y plane, `width · height` bytes, row after row with the decoder's padding removed.
    public var luma: [UInt8]

    /// Mean of the luma samples.
    public var meanLuma: Double {
        guard !luma.isEmpty else { return 0 }
        var sum = 0
        for value in luma { sum += Int(value) }
        return Double(sum) / Double(luma.count)
    }
}

/// What ``FilmDecoder`` found in a film: stream facts measured from the decoded data, and the whole audio track.
public struct DecodedFilm: Sendable {
    /// FFmpeg's name for the video codec (`"h264"`).
    public var videoCodec: String
    /// FFmpeg's name for the audio codec (`"aac"`), or `nil` when the film has no audio stream.
    public var audioCodec: String?
    /// Pictures the decoder produced.
    public var frameCount: Int
    public var width: Int
    public var height: Int
    /// The video stream's duration, exact: from the first packet's pts to the end of the last packet.
    public var videoDuration: Rational
    /// The stream's average frame rate, or `frameCount / videoDuration` when the container gives none.
    public var averageFPS: Rational
    /// Decoded audio samples per channel, encoder priming removed.
    public var audioSampleCount: Int
    /// Audio samples per second; 0 without audio.
    public var sampleRate: Int
    /// Audio channels; 0 without audio.
    public var channels: Int
    /// Every decoded audio sample, interleaved float; `nil` without audio.
    public var audio: PCMBuffer?
}
