/// The outcome of checking a film: one row per check.
public struct VerifyReport: Sendable, CustomStringConvertible {
    /// One check's result.
    public struct Check: Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
        /// Whether the check means anything for the film's engine (the test card's patterns do not exist in
        /// another engine's film); one that does not apply neither passes nor fails.
        public var applicable: Bool
        public init(name: String, passed: Bool, detail: String, applicable: Bool = true) {
            self.name = name
            self.passed = passed
            self.detail = detail
            self.applicable = applicable
        }

        /// The same check, set aside with the reason.
        public func notApplicable(_ reason: String) -> Check {
            Check(name: name, passed: false, detail: reason, applicable: false)
        }
    }

    public var checks: [Check]
    public init(checks: [Check]) { self.checks = checks }

    /// Every applicable check passed.
    public var passed: Bool { applicable.allSatisfy(\.passed) }

    /// The checks that mean something for this film.
    public var applicable: [Check] { checks.filter(\.applicable) }

    /// A table: check, PASS/FAIL/N/A, detail; then the verdict over the applicable checks.
    public var description: String {
        let width = max(12, (checks.map(\.name.count).max() ?? 0) + 2)
        var lines = checks.map { c in
            c.name + String(repeating: " ", count: width - c.name.count)
                + (!c.applicable ? "N/A   " : c.passed ? "PASS  " : "FAIL  ") + c.detail
        }
        let count = applicable.count
        let skipped = checks.count - count
        let aside = skipped > 0 ? " (\(skipped) not applicable)" : ""
        lines.append(passed ? "verify: all \(count) checks passed\(aside)"
                     : "verify: \(applicable.filter { !$0.passed }.count) of \(count) checks FAILED\(aside)")
        return lines.joined(separator: "\n")
    }
}
