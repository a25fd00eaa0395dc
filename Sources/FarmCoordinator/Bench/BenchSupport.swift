import FarmCore
import Foundation

/// Samples in order and their quantiles, for the benchmarks' reports.
struct Quantiles {
    let sorted: [Double]

    init(_ values: [Double]) { sorted = values.sorted() }

    /// The sample nearest fraction `q` (0…1) of the way through; 0 when there are none.
    func at(_ q: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[Swift.min(sorted.count - 1, Int(q * Double(sorted.count - 1) + 0.5))]
    }

    var min: Double { sorted.first ?? 0 }
    var max: Double { sorted.last ?? 0 }

    static func seconds(_ value: Double) -> String { String(format: "%.3f s", value) }
}

/// A coordinator in this process for a benchmark: data in a temporary folder, a free loopback port, no picture to
/// assemble (``DispatchBenchmark/NoFilm``). `close()` stops it and removes the folder.
final class BenchCoordinator {
    let coordinator: Coordinator
    let endpoint: String
    let directory: URL
    private let keep: Bool

    /// - Parameter directory: an existing data directory to open (kept on `close()`); a new temporary one otherwise.
    init(_ name: String, directory existing: URL? = nil, configure: (inout CoordinatorConfiguration) -> Void = { _ in }) throws {
        keep = existing != nil
        directory = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("reelfarm-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var config = CoordinatorConfiguration(
            dataDirectory: directory, bind: "tcp://127.0.0.1:*",
            geometry: { _ in EngineGeometry(latentChannels: 8, maxWindow: 1025) }, assembler: DispatchBenchmark.NoFilm())
        config.log = { _ in }
        configure(&config)
        coordinator = try Coordinator(configuration: config)
        endpoint = try coordinator.start()
    }

    func close() {
        coordinator.stop()
        coordinator.wait()
        if !keep { try? FileManager.default.removeItem(at: directory) }
    }
}
