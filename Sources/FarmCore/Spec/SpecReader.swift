import Foundation
import Yams

/// Walks a composed YAML tree, collecting every broken rule with the field's path and line.
///
/// YAML is a superset of JSON, so one reader serves both. Scalars are read from their source text, never through
/// `Double`, so `4.5` seconds is exactly 9/2.
struct SpecReader {
    var issues: [SpecIssue] = []
    /// The line of every field and list item read so far, so rules checked after reading (on the parsed spec, where
    /// the YAML nodes are gone) still name where the field stands.
    private var lines: [String: Int] = [:]

    /// Records a broken rule; without a node the line is the field's as read, else its nearest enclosing field's.
    mutating func fail(_ path: String, _ node: Node?, _ rule: String) {
        issues.append(SpecIssue(field: path, line: node?.mark?.line ?? line(of: path), rule: rule))
    }

    /// The line of `path`, or of the nearest enclosing field read (`shots[2].duration` → `shots[2]` → `shots`).
    func line(of path: String) -> Int? {
        var p = Substring(path)
        while !p.isEmpty {
            if let line = lines[String(p)] { return line }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            p = p[..<cut]
        }
        return nil
    }

    private mutating func note(_ path: String, _ node: Node) {
        if let line = node.mark?.line, lines[path] == nil { lines[path] = line }
    }

    /// The mapping at `path` as (key, value) pairs, refusing keys outside `allowed`.
    mutating func mapping(_ node: Node, _ path: String, allowed: Set<String>) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            fail(path, node, "must be a mapping")
            return nil
        }
        var out: [String: Node] = [:]
        for (key, value) in mapping {
            guard case .scalar(let k) = key else {
                fail(path, key, "keys must be plain strings")
                continue
            }
            let field = path.isEmpty ? k.string : "\(path).\(k.string)"
            if !allowed.contains(k.string) {
                let known = allowed.sorted().joined(separator: ", ")
                fail(field, key, "unknown key (allowed here: \(known))")
            } else if out[k.string] != nil {
                fail(field, key, "appears twice")
            } else {
                out[k.string] = value
                note(field, value)
            }
        }
        return out
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let seq) = node else {
            fail(path, node, "must be a list")
            return nil
        }
        for (i, item) in seq.enumerated() { note("\(path)[\(i)]", item) }
        return Array(seq)
    }

    mutating func scalar(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let s) = node else {
            fail(path, node, "must be a single value, not a list or mapping")
            return nil
        }
        return s.string
    }

    mutating func string(_ node: Node?, _ path: String, required: Bool, max: Int) -> String? {
        guard let node else {
            if required { fail(path, nil, "is required") }
            return nil
        }
        guard let s = scalar(node, path) else { return nil }
        if s.count > max { fail(path, node, "must be at most \(max) characters (has \(s.count))") }
        return s
    }

    mutating func int(_ node: Node?, _ path: String, required: Bool = true) -> Int? {
        guard let node else {
            if required { fail(path, nil, "is required") }
            return nil
        }
        guard let s = scalar(node, path) else { return nil }
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else {
            fail(path, node, "must be a whole number (got \"\(s)\")")
            return nil
        }
        return v
    }

    /// A time in seconds: a rational whose denominator is at most ``SpecLimits/maxTimeDenominator``, so that sums
    /// and products of times stay far inside `Int64`.
    mutating func time(_ node: Node?, _ path: String, required: Bool = true) -> Rational? {
        guard let v = rational(node, path, required: required) else { return nil }
        guard v.denominator <= SpecLimits.maxTimeDenominator else {
            fail(path, node, "must be exact to the microsecond: a denominator of at most "
                 + "\(SpecLimits.maxTimeDenominator) (got \(v))")
            return nil
        }
        return v
    }

    mutating func rational(_ node: Node?, _ path: String, required: Bool = true) -> Rational? {
        guard let node else {
            if required { fail(path, nil, "is required") }
            return nil
        }
        guard let s = scalar(node, path) else { return nil }
        guard let v = Rational(parsing: s) else {
            fail(path, node, "must be a number like 24, 4.5 or \"30000/1001\" (got \"\(s)\")")
            return nil
        }
        return v
    }
}
