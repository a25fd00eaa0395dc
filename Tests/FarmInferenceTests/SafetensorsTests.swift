import Foundation
import Testing

@testable import FarmInference

@Suite struct SafetensorsTests {
    /// A file written by hand: header JSON and data bytes as given.
    static func file(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> Data {
        var out = Data()
        withUnsafeBytes(of: (declaredLength ?? UInt64(header.utf8.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    /// The kind of ``SafetensorsError`` `body` throws (nil when it throws nothing or something else).
    static func kind(_ body: () throws -> Void) -> SafetensorsError.Kind? {
        do { try body() } catch let error as SafetensorsError { return error.kind } catch { return nil }
        return nil
    }

    @Test func writtenFilesReadBackWithMetadata() throws {
        var writer = SafetensorsWriter(metadata: ["purpose": "test"])
        writer.add("b", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5])
        writer.add("a", shape: [1], values: [Float.pi])
        writer.add("empty", shape: [0, 4], values: [])
        let bytes = writer.encoded()
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(headerLength % 8 == 0)
        let file = try SafetensorsFile(bytes: bytes, path: "mem")
        #expect(file.metadata == ["purpose": "test"])
        #expect(try file.floats("b") == [1, 2, 3, 4, 5, -6.5])
        #expect(try file.floats("a") == [Float.pi])
        #expect(file.entries["b"]?.shape == [2, 3] && file.entries["empty"]?.count == 0)
        // Data in name order: "a" first.
        #expect(file.entries["a"]?.range == 0..<4 && file.entries["b"]?.range == 4..<28)
    }

    @Test func readsHalfAndBrainFloat() throws {
        // F16: 1.0, -2.5, 2^-24 (smallest subnormal), 65504; BF16: 1.0, -2.5, 3.140625.
        let f16: [UInt16] = [0x3C00, 0xC100, 0x0001, 0x7BFF]
        let bf16: [UInt16] = [0x3F80, 0xC020, 0x4049]
        let data = (f16 + bf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}}"#
        let file = try SafetensorsFile(bytes: Self.file(header: header, data: data), path: "mem")
        #expect(try file.floats("h") == [1, -2.5, Float(bitPattern: 0x3380_0000), 65504])
        #expect(try file.floats("b") == [1, -2.5, 3.140625])
    }

    @Test func refusesBrokenFiles() throws {
        let good = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let eight = [UInt8](repeating: 0, count: 8)
        #expect(Self.kind { _ = try SafetensorsFile(bytes: Data([1, 2, 3]), path: "m") } == .truncated)
        #expect(
            Self.kind {
                _ = try SafetensorsFile(bytes: Self.file(header: good, data: eight, declaredLength: 1 << 40), path: "m")
            }
                == .headerPastFile)
        #expect(
            Self.kind { _ = try SafetensorsFile(bytes: Self.file(header: good, data: [0, 0, 0]), path: "m") }
                == .truncated)
        #expect(
            Self.kind { _ = try SafetensorsFile(bytes: Self.file(header: "{not json", data: []), path: "m") }
                == .badHeader)
        let fp8 = #"{"x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#
        #expect(
            Self.kind { _ = try SafetensorsFile(bytes: Self.file(header: fp8, data: [0, 0]), path: "m") }
                == .unknownDType)
        let short = #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        #expect(
            Self.kind { _ = try SafetensorsFile(bytes: Self.file(header: short, data: eight), path: "m") }
                == .badOffsets)
        let overlap = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(
            Self.kind { _ = try SafetensorsFile(bytes: Self.file(header: overlap, data: eight), path: "m") }
                == .badOffsets)
        #expect(
            Self.kind { _ = try SafetensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/w.safetensors")) }
                == .missingFile)
        let file = try SafetensorsFile(bytes: Self.file(header: good, data: eight), path: "m")
        #expect(Self.kind { _ = try file.floats("y") } == .missingTensor)
    }

    @Test func errorsNameTheFileAndTheTensor() throws {
        let short = #"{"blocks.0.qkv":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        do {
            _ = try SafetensorsFile(
                bytes: Self.file(header: short, data: [UInt8](repeating: 0, count: 8)), path: "/w/x.safetensors")
            Issue.record("accepted a tensor whose bytes do not match its shape")
        } catch {
            #expect(error.description.contains("/w/x.safetensors") && error.description.contains("blocks.0.qkv"))
        }
    }

    @Test func seededWeightsAreReproducibleAndRoundTrip() throws {
        let tiny = MMDiTConfig.named("tiny")!
        let a = ModelWeights.seeded(tiny, seed: 3)
        let b = ModelWeights.seeded(tiny, seed: 3)
        let c = ModelWeights.seeded(tiny, seed: 4)
        #expect(a.storage.array() == b.storage.array())
        #expect(a.storage.array() != c.storage.array())
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("w.safetensors")
        try a.write(to: url)
        let loaded = try ModelWeights.load(contentsOf: url)
        #expect(loaded.config == tiny && loaded.storage.array() == a.storage.array())
        #expect(loaded.metadata["reelfarm.seed"] == "3")
    }

    @Test func modelRefusesMismatchedWeights() throws {
        let tiny = MMDiTConfig.named("tiny")!
        #expect(
            Self.kind {
                _ = try ModelWeights.load(contentsOf: Fixtures.tinyWeights, expecting: MMDiTConfig.named("small"))
            }
                == .configMismatch)
        let file = try SafetensorsFile(contentsOf: Fixtures.tinyWeights)
        let weights = try ModelWeights.load(file)
        func rewrite(_ edit: (inout [String: (shape: [Int], values: [Float])]) -> Void) -> SafetensorsFile {
            var tensors: [String: (shape: [Int], values: [Float])] = [:]
            for p in weights.layout.parameters { tensors[p.name] = (p.shape, weights.values(p.name)) }
            edit(&tensors)
            var w = SafetensorsWriter(metadata: weights.metadata)
            for (name, t) in tensors { w.add(name, shape: t.shape, values: t.values) }
            return try! SafetensorsFile(bytes: w.encoded(), path: "edited")
        }
        let missing = rewrite { $0["blocks.1.video.fc1.bias"] = nil }
        #expect(Self.kind { _ = try ModelWeights.load(missing, expecting: tiny) } == .missingTensor)
        let reshaped = rewrite { $0["text.proj.weight"]!.shape = [16, 32] }
        #expect(Self.kind { _ = try ModelWeights.load(reshaped, expecting: tiny) } == .shapeMismatch)
        let extra = rewrite { $0["blocks.9.video.qkv.weight"] = ([1], [0]) }
        #expect(Self.kind { _ = try ModelWeights.load(extra, expecting: tiny) } == .shapeMismatch)
        var unnamed = SafetensorsWriter()
        unnamed.add("x", shape: [1], values: [0])
        let noConfig = try SafetensorsFile(bytes: unnamed.encoded(), path: "plain")
        #expect(Self.kind { _ = try ModelWeights.load(noConfig) } == .configMismatch)
        #expect(Self.kind { _ = try ModelWeights.load(noConfig, expecting: tiny) } == .missingTensor)
    }
}
