import Foundation

/// Where a storyboard comes from on the command line: a file path, or `sample:NAME` for a bundled sample.
public enum JobSource {
    /// Loads and validates the storyboard `argument` names.
    /// - Throws: ``SpecError`` naming the file (or sample) and every broken rule.
    public static func load(_ argument: String) throws(SpecError) -> JobSpec {
        if argument.hasPrefix("sample:") {
            let name = String(argument.dropFirst("sample:".count))
            guard let text = SampleStoryboards.text(name) else {
                throw SpecError(source: argument, issues: [SpecIssue(
                    field: "(sample)", rule: "no bundled sample \"\(name)\" (have: \(SampleStoryboards.names.joined(separator: ", ")))")])
            }
            return try JobSpec.parse(text, source: argument)
        }
        return try JobSpec.load(contentsOf: URL(fileURLWithPath: argument))
    }
}
