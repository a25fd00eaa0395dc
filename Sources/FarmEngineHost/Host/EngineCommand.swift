import Foundation

/// How a worker starts an engine process: `NAME=COMMAND` from `--engine-command` or a config file.
public struct EngineCommand: Sendable, Equatable {
    /// The engine name a storyboard's `model.engine` uses.
    public var name: String
    /// Program and arguments; `{slot}` in any word is replaced by the slot index.
    public var words: [String]

    public init(name: String, words: [String]) {
        self.name = name
        self.words = words
    }

    /// Parses `NAME=COMMAND`; COMMAND is split on spaces, single or double quotes group words (no shell).
    /// - Throws: ``EngineContractError`` naming what is wrong.
    public init(parsing text: String) throws(EngineContractError) {
        guard let eq = text.firstIndex(of: "=") else {
            throw EngineContractError("--engine-command \"\(text.prefix(80))\" is not NAME=COMMAND")
        }
        let name = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        guard Self.isName(name) else {
            throw EngineContractError("--engine-command: engine name \"\(name.prefix(80))\" must be 1–64 of a-z, 0-9, '-', '_', '.'")
        }
        let words = try Self.split(String(text[text.index(after: eq)...]))
        guard !words.isEmpty else { throw EngineContractError("--engine-command \(name): the command is empty") }
        self.init(name: name, words: words)
    }

    /// Engine names: lower-case letters, digits, `-`, `_`, `.`; 1–64 characters.
    public static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy {
            (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e
        }
    }

    static func split(_ s: String) throws(EngineContractError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for c in s {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(c)
                inWord = true
            }
        }
        guard quote == nil else { throw EngineContractError("--engine-command: unbalanced quote in \"\(s.prefix(80))\"") }
        if inWord { words.append(current) }
        return words
    }

    /// The words for slot `slot`.
    public func words(slot: Int) -> [String] { words.map { $0.replacingOccurrences(of: "{slot}", with: String(slot)) } }
}
