import ArgumentParser
import Foundation

/// Checks, before any work starts, that files and folders the command will write can be written, and turns
/// Foundation's file errors into sentences that name the path and the fix.
enum FileChecks {
    /// Refuses an output file whose folder is missing, not a folder or not writable (exit 1, nothing generated).
    static func outputFile(_ path: String, command: String) throws {
        if let problem = outputFileProblem(path) {
            printError("reelfarm \(command): cannot write \(path): \(problem)")
            throw ExitCode.failure
        }
    }

    /// Refuses an input file that is missing, a folder or unreadable (exit 1).
    static func inputFile(_ path: String, command: String) throws {
        var isFolder: ObjCBool = false
        let problem: String?
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            problem = "no such file"
        } else if isFolder.boolValue {
            problem = "it is a folder, not a film"
        } else if !FileManager.default.isReadableFile(atPath: path) {
            problem = "it is not readable (check its permissions)"
        } else {
            problem = nil
        }
        if let problem {
            printError("reelfarm \(command): cannot read \(path): \(problem)")
            throw ExitCode.failure
        }
    }

    /// Refuses a data directory that is not a writable folder and cannot be created as one (exit 1).
    static func dataDirectory(_ path: String, command: String) throws {
        if let problem = dataDirectoryProblem(path) {
            printError("reelfarm \(command): \(problem)")
            throw ExitCode.failure
        }
    }

    /// What stops `path` from being written, or `nil`.
    static func outputFileProblem(_ path: String) -> String? {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            return "it is a folder (give a file name, e.g. \(path)/film.mp4)"
        }
        let folder = parent(of: path)
        guard fm.fileExists(atPath: folder, isDirectory: &isFolder) else {
            return "folder \(folder) does not exist (create it first)"
        }
        guard isFolder.boolValue else { return "\(folder) is a file, not a folder" }
        guard fm.isWritableFile(atPath: folder) else {
            return "folder \(folder) is not writable (check its permissions)"
        }
        return nil
    }

    /// What stops `path` from being used as a data directory (created if missing), or `nil`.
    static func dataDirectoryProblem(_ path: String) -> String? {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { return "data directory \(path) is a file, not a folder" }
            guard fm.isWritableFile(atPath: path) else {
                return "data directory \(path) is not writable (check its permissions)"
            }
            return nil
        }
        // Missing folders are created; the nearest one that exists must let us.
        var ancestor = parent(of: path)
        while !fm.fileExists(atPath: ancestor, isDirectory: &isFolder), ancestor != "/", ancestor != "." {
            ancestor = parent(of: ancestor)
        }
        guard isFolder.boolValue else { return "data directory \(path) cannot be created: \(ancestor) is a file, not a folder" }
        guard fm.isWritableFile(atPath: ancestor) else {
            return "data directory \(path) cannot be created: folder \(ancestor) is not writable (check its permissions)"
        }
        return nil
    }

    /// A sentence for a file error met while working on `path`; Foundation's own text for anything else.
    static func describe(_ error: any Error, path: String) -> String {
        guard let cocoa = error as? CocoaError else { return "\(error)" }
        switch cocoa.code {
        case .fileNoSuchFile, .fileReadNoSuchFile:
            return outputFileProblem(path).map { "cannot write \(path): \($0)" } ?? "\(path) does not exist"
        case .fileWriteNoPermission, .fileReadNoPermission:
            return "\(path) is not writable (check its permissions)"
        case .fileWriteOutOfSpace:
            return "cannot write \(path): the disk is full"
        case .fileWriteVolumeReadOnly:
            return "cannot write \(path): the volume is read-only"
        default:
            return "cannot write \(path): \(cocoa.localizedDescription)"
        }
    }

    /// The folder that holds `path` (`.` for a bare file name).
    private static func parent(of path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }
}
