import FarmCore
import FarmEngineHost
import FarmTesting
import FarmWire
import Foundation
import Testing

/// What an engine process sends is hostile input: mutations of valid messages must be refused, never trap.
@Suite struct EngineContractFuzzTests {
    @Test func mutatedEngineMessagesNeverTrap() {
        var mutator = ByteMutator(seed: 0x9E1)
        let seeds = EngineInput.seeds()
        for i in 0..<20_000 {
            EngineInput.run(mutator.mutate(seeds[i % seeds.count], tokens: ["RFEP", "RFLT", "\"geometry\"", "\"audio\"", "1e308"]))
        }
    }

    @Test func theSeedsAreValidAndEachCheckCanFail() throws {
        for seed in EngineInput.seeds() { _ = try EngineMessage.decode(Data(seed)) }
        let ready = try EngineMessage.decode(Data(EngineInput.seeds()[0]))
        #expect(try ready.payload(EngineReady.self).validated(as: "testcard").spatialMultiple == 32)
        // A hello or handshake whose audio step multiplies past Int (65536⁴) is refused, not trapped on.
        var doc = GeometryDocument(EngineGeometry(latentChannels: 8, maxWindow: 33))
        doc.stepLayout.audio = [65_536, 65_536, 65_536, 65_536]
        #expect(throws: WireError.self) { _ = try doc.geometry() }
        var bytes = EngineInput.seeds()[1]
        bytes.append(0)
        #expect(throws: EngineContractError.self) { _ = try EngineMessage.decode(Data(bytes)) }
    }
}
