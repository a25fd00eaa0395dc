import Foundation

/// `FarmFuzz`: the parsers' fuzz targets.
///
/// Built by `Scripts/fuzz` with `-sanitize=fuzzer,address -D FUZZING`, it is a libFuzzer binary running the target
/// named by `FARM_FUZZ_TARGET`. Built plainly (as `swift build` does), it replays inputs instead:
/// `FarmFuzz TARGET FILE…` runs each file through the target (a crash reproduces without sanitizers), and
/// `FarmFuzz --seeds TARGET DIR` writes the target's seed inputs to DIR; the libFuzzer build does the same when
/// `FARM_FUZZ_SEEDS` names a directory.
@main
struct FuzzMain {
    static func main() throws {
        #if FUZZING
        let env = ProcessInfo.processInfo.environment
        guard let name = env["FARM_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
            fail("set FARM_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let dir = env["FARM_FUZZ_SEEDS"] {
            try writeSeeds(target, to: dir)
            return
        }
        FuzzDriver.target = target
        exit(FuzzDriver.run())
        #else
        var args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--seeds", args.count == 3, let target = FuzzTarget(rawValue: args[1]) {
            try writeSeeds(target, to: args[2])
            return
        }
        guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
            fail("usage: FarmFuzz TARGET FILE… | FarmFuzz --seeds TARGET DIR "
                 + "(targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        args.removeFirst()
        for path in args {
            target.run(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            print("\(path): ok")
        }
        #endif
    }

    static func writeSeeds(_ target: FuzzTarget, to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, seed) in try Seeds.make(target).enumerated() {
            try Data(seed).write(to: URL(fileURLWithPath: dir).appendingPathComponent("seed-\(i)"))
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}

#if FUZZING
/// libFuzzer's entry point when `main` is ours (SwiftPM renames an executable's `main`, so libFuzzer's cannot be used).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

enum FuzzDriver {
    nonisolated(unsafe) static var target = FuzzTarget.wire

    static func run() -> CInt {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            FuzzDriver.target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
            return 0
        }
    }
}
#endif
