/// The documented limits a storyboard must stay within. The README's "Storyboard" section lists them.
public enum SpecLimits {
    public static let minWidth = 192
    public static let minHeight = 64
    public static let maxWidth = 4096
    public static let maxHeight = 2304
    /// Width and height must be multiples of this (the codec's macroblock and the engines' patch size).
    public static let sizeMultiple = 16
    public static let maxFPS = Rational(240)
    /// Largest numerator or denominator accepted in a frame rate.
    public static let maxFPSTerm: Int64 = 1_000_000
    public static let sampleRates = 8_000...192_000
    public static let channels = 1...8
    public static let maxShots = 10_000
    /// Longest single shot, seconds.
    public static let maxShotSeconds = Rational(3_600)
    /// Longest film, seconds (4 hours).
    public static let maxFilmSeconds = Rational(14_400)
    /// Longest single shot given in frames: `maxShotSeconds` at `maxFPS`.
    public static let maxShotFrames = 864_000
    /// Largest denominator of a time (duration, cue or keyframe `at`): exact to the microsecond.
    public static let maxTimeDenominator: Int64 = 1_000_000
    public static let window = 1...1_025
    public static let steps = 1...1_000
    public static let maxPromptCharacters = 4_096
    public static let maxSoundCharacters = 1_024
    public static let maxCuesPerShot = 64
    public static let maxGridReferences = 9
    public static let maxKeyframesPerShot = 64
    public static let maxIDCharacters = 64
}
