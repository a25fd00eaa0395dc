/// The outcome of checking a film: one row per check.
public struct VerifyReport: Sendable, CustomStringConvertible {
    /// One check's result.
    public struct Check: Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
        public init(name: String, passed: Bool, detail: String) {
            self.name = name
            self.passed = passed
            self.detail = detail
        }
    }

    public var checks: [Check]
    public init(checks: [Check]) { self.checks = checks }

    public var passed: Bool { checks.allSatisfy(\.passed) }

    /// A table: check, PASS/FAIL, detail.
    public var description: String {
        let width = max(12, (checks.map(\.name.count).max() ?? 0) + 2)
        var lines = checks.map { c in
            c.name + String(repeating: " ", count: width - c.name.count) + (c.passed ? "PASS  " : "FAIL  ") + c.detail
        }
        lines.append(passed ? "verify: all \(checks.count) checks passed" : "verify: \(checks.filter { !$0.passed }.count) of \(checks.count) checks FAILED")
        return lines.joined(separator: "\n")
    }
}
