/// One rule a storyboard broke: the field's path (`shots[2].duration`), where it stands and the rule.
public struct SpecIssue: Hashable, Sendable, CustomStringConvertible {
    /// Dotted path of the field, e.g. `output.width` or `shots[2].duration`.
    public var field: String
    /// 1-based line in the storyboard file, when known.
    public var line: Int?
    /// The rule, e.g. `must be > 0`.
    public var rule: String

    public init(field: String, line: Int? = nil, rule: String) {
        self.field = field
        self.line = line
        self.rule = rule
    }

    public var description: String {
        if let line { return "\(field) (line \(line)): \(rule)" }
        return "\(field): \(rule)"
    }
}

/// A storyboard that cannot be rendered, with every rule it broke.
public struct SpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where the storyboard came from (a path, or `<sample cyber-lobster>`).
    public var source: String
    public var issues: [SpecIssue]

    public init(source: String, issues: [SpecIssue]) {
        self.source = source
        self.issues = issues
    }

    public var description: String {
        // A file that cannot be read or decoded has one thing to say; it reads best on one line.
        if issues.count == 1, issues[0].field == "(file)" { return "\(source): \(issues[0].rule)" }
        return (["\(source): invalid storyboard"] + issues.map { "  \($0)" }).joined(separator: "\n")
    }
}
