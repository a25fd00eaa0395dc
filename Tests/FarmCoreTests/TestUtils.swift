import FarmCore

/// A small seeded generator so property tests are reproducible (the seed is in every failure message).
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        return SeedDerivation.mix(state)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

let frameRates = [Rational(24), Rational(25), Rational(30000, 1001), Rational(24000, 1001), Rational(30), Rational(60)]
let sampleRates = [44_100, 48_000]

/// The geometry every engine here uses: causal stride 4, spatial 8.
let stride4 = EngineGeometry(temporalStride: 4, spatialStride: 8, latentChannels: 8, maxWindow: 1025)

/// A random storyboard: odd lengths, one-frame shots, both schedules, cuts and continuations.
func randomSpec(_ rng: inout TestRNG) -> JobSpec {
    let fps = rng.pick(frameRates)
    let rate = rng.pick(sampleRates)
    let window = 1 + 4 * rng.int(2...40)
    let overlap = 1 + 4 * rng.int(1...((window - 1) / 4 - 1))
    let schedule = rng.pick(Schedule.allCases)
    var shots: [ShotSpec] = []
    for i in 0..<rng.int(1...7) {
        let length: ShotLength
        switch rng.int(0...3) {
        case 0: length = .frames(1)
        case 1: length = .frames(rng.int(1...(3 * window + 5)))
        case 2: length = .seconds(Rational(Int64(rng.int(1...200)), Int64(rng.pick([1, 2, 3, 7, 10]))))
        default: length = .frames(window + rng.int(-2...2))
        }
        shots.append(ShotSpec(id: "s\(i)", length: length, prompt: "shot \(i)",
                              transition: i > 0 && rng.int(0...2) == 0 ? .continue : .cut))
    }
    return JobSpec(
        title: "random", output: OutputFormat(width: 320, height: 192, fps: fps, sampleRate: rate, channels: 2),
        model: ModelSpec(engine: "testcard", window: window, overlap: overlap, steps: 1, seed: rng.next() >> 1, schedule: schedule),
        shots: shots)
}
