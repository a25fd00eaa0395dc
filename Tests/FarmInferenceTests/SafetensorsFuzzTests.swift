import FarmTesting
import Foundation
import Testing

@testable import FarmInference

/// Weights files come from users and downloads: a hostile header must be refused with the rule it broke, and every
/// tensor an accepted file lists must read back without leaving the file.
@Suite struct SafetensorsFuzzTests {
    typealias T = SafetensorsTests

    // Trapped before: the shape's element count fit Int, but `count * dtype.size` overflowed.
    @Test func shapeWhoseByteSizeOverflowsIsRefused() {
        let header = #"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#
        #expect(T.kind { _ = try SafetensorsFile(bytes: T.file(header: header, data: []), path: "m") } == .badOffsets)
    }

    // Accepted before: `NSNumber.intValue` truncated 4.9 to 4 and wrapped 1e30 into an arbitrary offset.
    @Test func nonIntegralOrHugeNumbersAreRefused() {
        for bad in ["[0, 4.9]", "[0, 1e30]", "[-1e30, 4]"] {
            let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":"# + bad + "}}"
            #expect(T.kind { _ = try SafetensorsFile(bytes: T.file(header: header, data: [0, 0, 0, 0]), path: "m") } == .badHeader)
        }
    }

    /// 10 000 mutations of a written file (header text and data) are refused or read back in full.
    @Test func mutatedFilesNeverTrap() {
        var writer = SafetensorsWriter(metadata: ["config": "tiny"])
        writer.add("a.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        writer.add("b.bias", shape: [3], values: [0.5, -1, 2])
        let good = Array(writer.encoded())
        var mutator = ByteMutator(seed: 0x5AFE)
        var accepted = 0
        for _ in 0 ..< 10_000 {
            let bytes = mutator.mutate(good, tokens: ["4611686018427387904", "-1", "1e30", "\"F16\"", "\"BF16\"", "[", "]",
                                                      ",", "0", "24", "null", "\"__metadata__\""])
            guard let file = try? SafetensorsFile(bytes: Data(bytes), path: "m") else { continue }
            accepted += 1
            for name in file.entries.keys {
                #expect((try? file.floats(name))?.count == file.entries[name]?.count)
            }
        }
        #expect(accepted > 0)
    }
}
