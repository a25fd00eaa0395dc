import Foundation

/// Where things are for tests.
public enum TestPaths {
    /// The `reelfarm` executable built next to the test bundle.
    public static let reelfarm: URL = {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("reelfarm")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return dir.appendingPathComponent("reelfarm")
    }()

    /// A new, empty temporary directory.
    public static func temporaryDirectory(_ name: String = "test") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
