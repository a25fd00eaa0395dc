import FarmCore
import FarmMedia
import FarmTesting
import Foundation
import Testing

@Suite struct ImageDecoderTests {
    /// Writes a solid-colour image with the ffmpeg program (an encoder independent of the code under test).
    func image(_ colour: String, _ ext: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("img-\(UUID().uuidString).\(ext)")
        let out = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/ffmpeg"),
                                        ["-v", "error", "-f", "lavfi", "-i", "color=c=\(colour):s=64x48", "-frames:v", "1",
                                         "-y", url.path])
        #expect(out.status == 0, "\(out.stderr)")
        return url
    }

    @Test(arguments: ["png", "jpg"])
    func decodesAndScalesToTheFilmSize(ext: String) throws {
        let still = try ImageDecoder.decode(try image("0x2060E0", ext), width: 32, height: 16)
        #expect(still.width == 32 && still.height == 16 && still.rgb.count == 32 * 16 * 3)
        // Every pixel close to the colour written (JPEG and YUV round trips allow a few levels).
        for i in stride(from: 0, to: still.rgb.count, by: 3) {
            #expect(abs(Int(still.rgb[i]) - 0x20) <= 6 && abs(Int(still.rgb[i + 1]) - 0x60) <= 6 && abs(Int(still.rgb[i + 2]) - 0xE0) <= 6,
                    "pixel \(i / 3): \(still.rgb[i]), \(still.rgb[i + 1]), \(still.rgb[i + 2])")
        }
    }

    @Test func refusesMissingAndNonImageFilesNamingThem() throws {
        #expect { try ImageDecoder.decode(URL(fileURLWithPath: "/nonexistent/key.png"), width: 32, height: 16) } throws: {
            "\($0)".contains("/nonexistent/key.png")
        }
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("not-an-image-\(UUID().uuidString).png")
        try Data("hello".utf8).write(to: text)
        #expect(throws: MediaError.self) { try ImageDecoder.decode(text, width: 32, height: 16) }
    }
}
