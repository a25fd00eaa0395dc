import FarmCore
import FarmTesting
import Foundation
import Testing

/// The latents and PCM codecs read artifacts and wire blobs: hostile bytes must be refused, never trap.
@Suite struct LatentsCodecTests {
    static let good = LatentsCodec.encode(Latents(
        video: LatentTensor(shape: [3, 4, 1, 2], values: (0 ..< 24).map(Float.init)),
        audio: LatentTensor(shape: [3, 2], values: (0 ..< 6).map { -Float($0) })))

    /// `"RFLT"`, version 1, then each tensor as rank, dims and `values` Float32 values.
    static func latents(video: [Int64], videoValues: Int, audio: [Int64], audioValues: Int) -> Data {
        var out = Data("RFLT".utf8)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt32(1))
        for (shape, n) in [(video, videoValues), (audio, audioValues)] {
            put(UInt32(shape.count))
            for d in shape { put(d) }
            out.append(Data(count: 4 * n))
        }
        return out
    }

    func reason(_ data: Data) -> String? {
        do {
            _ = try LatentsCodec.decode(data)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func roundTrips() throws {
        #expect(LatentsCodec.encode(try LatentsCodec.decode(Self.good)) == Self.good)
    }

    // Accepted before, to trap later: zero steps let trailing dimensions whose product overflows pass the element
    // count check (0 × anything is 0), and the first `stride0` (an engine slicing its pinned latents) trapped.
    @Test func zeroStepsWithOverflowingTrailingDimensionsIsRefused() {
        let data = Self.latents(video: [0, 1 << 31 - 1, 1 << 31 - 1, 1 << 31 - 1], videoValues: 0, audio: [0], audioValues: 0)
        #expect(reason(data)?.contains("video") == true)
    }

    @Test func negativeDimensionIsRefused() {
        let data = Self.latents(video: [1, -4, 1, 1], videoValues: 0, audio: [1], audioValues: 1)
        #expect(reason(data)?.contains("dimension 1 is -4") == true)
    }

    @Test func hugeDimensionIsRefusedBeforeAllocating() {
        let data = Self.latents(video: [Int64.max, 1, 1, 1], videoValues: 1, audio: [1], audioValues: 1)
        #expect(reason(data)?.contains("dimension 0") == true)
        let many = Self.latents(video: [1 << 20, 1 << 20], videoValues: 1, audio: [1], audioValues: 1)
        #expect(reason(many)?.contains("more than") == true)
    }

    // `Latents.init` traps when the streams disagree on steps; decoding refuses instead.
    @Test func videoAndAudioStepMismatchIsRefused() {
        let data = Self.latents(video: [2, 1], videoValues: 2, audio: [3, 1], audioValues: 3)
        #expect(reason(data)?.contains("video has 2 steps, audio 3") == true)
    }

    @Test func checkedInitializersRefuseWhatTheTrappingOnesTrapOn() {
        #expect(throws: LatentsError.self) { try LatentTensor(validatingShape: [2, 2], values: [1, 2, 3]) }
        #expect(throws: LatentsError.self) { try LatentTensor(validatingShape: [], values: []) }
        #expect(throws: LatentsError.self) { try LatentTensor(validatingShape: [0, Int.max, 2], values: []) }
        #expect(throws: LatentsError.self) {
            try Latents(validating: LatentTensor(shape: [1, 1]), audio: LatentTensor(shape: [2, 1]))
        }
    }

    // Trapped before: `4 * channels` overflowed for a channel count near Int.max.
    @Test func pcmWithAbsurdChannelCountIsRefused() {
        #expect(throws: LatentsCodec.DecodeError.self) { try PCMCodec.decode(Data(count: 8), channels: Int.max / 2) }
        #expect(throws: LatentsCodec.DecodeError.self) { try PCMCodec.decode(Data(count: 8), channels: -1) }
        #expect(throws: LatentsCodec.DecodeError.self) { try PCMCodec.decode(Data(count: 6), channels: 1) }
    }

    /// 30 000 mutations of a valid encoding (edge values in the shape fields, cuts, splices) decode or throw.
    @Test func mutatedLatentsNeverTrap() {
        var mutator = ByteMutator(seed: 0x1A7E)
        var accepted = 0
        for _ in 0 ..< 30_000 {
            let input = Data(mutator.mutate(Array(Self.good)))
            if let latents = try? LatentsCodec.decode(input) {
                accepted += 1
                #expect(latents.video.shape.first == latents.audio.shape.first)
                #expect(latents.video.values.count <= input.count / 4)
            }
        }
        #expect(accepted > 0, "no mutation decoded: the test is not reaching past the header")
    }

    @Test func mutatedPCMNeverTraps() {
        var mutator = ByteMutator(seed: 0x9C3)
        let good = Array(PCMCodec.encode(PCMBuffer(channels: 2, samples: [0, 0.5, -0.5, 1])))
        for _ in 0 ..< 20_000 {
            let bytes = mutator.mutate([130] + good)
            _ = try? PCMCodec.decode(Data(bytes.dropFirst()), channels: Int(Int8(bitPattern: bytes.first ?? 0)) * 99_991)
        }
    }
}
