import FarmCore
import FarmMedia
import Foundation

/// Decodes every image a storyboard names (keyframes, grid references) at the film's picture size.
public enum StoryboardImages {
    /// The decoded images by path.
    /// - Throws: ``SpecError`` naming the field whose image cannot be read or decoded.
    /// - Parameter files: where each path's bytes are, when not at the path itself (a farm's stored copies).
    public static func load(_ spec: JobSpec, source: String = "storyboard", files: [String: URL] = [:]) throws(SpecError)
        -> [String: StillImage] {
        var out: [String: StillImage] = [:]
        var issues: [SpecIssue] = []
        var fields: [(String, String)] = []
        for (i, shot) in spec.shots.enumerated() {
            for (k, key) in shot.keyframes.enumerated() { fields.append(("shots[\(i)].keyframes[\(k)].image", key.image)) }
        }
        for (i, path) in spec.references.enumerated() { fields.append(("references[\(i)]", path)) }
        for (field, path) in fields where out[path] == nil {
            do {
                out[path] = try ImageDecoder.decode(files[path] ?? URL(fileURLWithPath: path), width: spec.output.width,
                                                    height: spec.output.height)
            } catch {
                issues.append(SpecIssue(field: field, rule: "image \(path) cannot be decoded: \(error)"))
            }
        }
        if !issues.isEmpty { throw SpecError(source: source, issues: issues) }
        return out
    }
}
