import FarmTesting
import Foundation
import Testing

@testable import FarmCore

/// Storyboards arrive from files and from `submit` messages: whatever their bytes, parsing must answer with the
/// rules broken, never trap.
@Suite struct StoryboardFuzzTests {
    static let good = """
        {"title": "fuzz", "output": {"width": 320, "height": 192, "fps": "30000/1001", "sample_rate": 48000},
         "model": {"engine": "testcard", "window": 17, "overlap": 5, "steps": 2, "seed": 7},
         "shots": [{"id": "a", "duration": 1.5, "prompt": "p", "cues": [{"at": 0.5, "sound": "s"}]},
                   {"id": "b", "frames": 20, "prompt": "q", "transition": "continue"}]}
        """

    func issues(_ text: String) -> [SpecIssue] {
        do {
            _ = try JobSpec.parse(text, source: "fuzz")
            return []
        } catch {
            return error.issues
        }
    }

    func storyboard(shots: String, fps: String = "24") -> String {
        """
        title: t
        output: {width: 320, height: 192, fps: "\(fps)", sample_rate: 48000}
        model: {engine: testcard, window: 17, overlap: 5}
        shots: \(shots)
        """
    }

    @Test func seedIsValid() {
        #expect(issues(Self.good).isEmpty)
    }

    // Trapped before: twelve integer and twelve fraction digits overflowed `whole * scale` in Rational(parsing:).
    @Test func decimalWithTooManyDigitsIsRefused() {
        #expect(Rational(parsing: "999999999999.999999999999") == nil)
        let found = issues(storyboard(shots: #"[{id: a, duration: 999999999999.999999999999, prompt: p}]"#))
        #expect(found.contains { $0.field == "shots[0].duration" })
    }

    // Trapped before: Int64.min has no positive counterpart, so reducing or normalizing its sign overflowed.
    @Test func fractionWithInt64MinIsRefused() {
        #expect(Rational(parsing: "-9223372036854775808/-1") == nil)
        #expect(Rational(parsing: "1/-9223372036854775808") == nil)
        let found = issues(storyboard(shots: "[{id: a, duration: 1, prompt: p}]", fps: "-9223372036854775808/-1"))
        #expect(found.contains { $0.field == "output.fps" })
    }

    // Trapped before: `frames` had no upper bound, and the timeline's running frame count overflowed.
    @Test func hugeFrameCountIsRefused() {
        let found = issues(storyboard(shots: "[{id: a, frames: 9223372036854775807, prompt: p}, {id: b, frames: 9, prompt: q}]"))
        #expect(found.contains { $0.field == "shots[0].frames" && $0.rule.contains("at most 864000") })
    }

    // Trapped before: each duration was valid, but the exact sum of 1/p for distinct large primes p needs a
    // denominator beyond Int64, and Rational's `+` overflowed.
    @Test func durationsWhoseExactSumOverflowsAreRefused() {
        let primes = [999_983, 999_979, 999_961, 999_959, 999_953]
        let shots = primes.enumerated().map { #"{id: s\#($0.offset), duration: "1/\#($0.element)", prompt: p}"# }
        let found = issues(storyboard(shots: "[" + shots.joined(separator: ", ") + "]"))
        #expect(found.contains { $0.rule.contains("exact running time cannot be computed") })
    }

    // Trapped before: a time's denominator was unbounded (`1/9223372036854775807`), overflowing any sum with it.
    @Test func timeFinerThanAMicrosecondIsRefused() {
        let found = issues(storyboard(shots: #"[{id: a, duration: "1/9223372036854775807", prompt: p, cues: [{at: "1/3000001", sound: s}]}]"#))
        #expect(found.contains { $0.field == "shots[0].duration" && $0.rule.contains("microsecond") })
        #expect(found.contains { $0.field == "shots[0].cues[0].at" })
    }

    @Test func nonUTF8BytesAreRefused() {
        let bytes: [UInt8] = Array(Self.good.utf8.prefix(40)) + [0xFF, 0xFE, 0xC3, 0x28] + Array(Self.good.utf8.dropFirst(40))
        #expect(!issues(String(decoding: bytes, as: UTF8.self)).isEmpty)
    }

    static let tokens = ["9223372036854775807", "-9223372036854775808", "/", "1/0", "0.", ".5", "999999999999.9",
                         "\"", "{", "}", "[", "]", ",", ":", "\n  ", "&a ", "*a", "!!str ", "frames", "duration",
                         "\"1/999983\"", "-1", "1e9", "continue", "anchored", "\u{0}", "\u{FEFF}", "é"]

    /// 10 000 mutations of a valid JSON storyboard (bytes and tokens spliced in) parse or are refused.
    @Test func mutatedStoryboardsNeverTrap() {
        var mutator = ByteMutator(seed: 0x5B0A)
        var refused = 0
        for _ in 0 ..< 10_000 {
            let bytes = mutator.mutate(Array(Self.good.utf8), tokens: Self.tokens)
            if !issues(String(decoding: bytes, as: UTF8.self)).isEmpty { refused += 1 }
        }
        #expect(refused > 0)
    }
}

extension StoryboardFuzzTests {
    // Yams composes recursively, and libyaml only stops at 1000 levels: `[[[…]]]` 999 deep overflowed a 512 KiB
    // thread stack (found with a crafted input at reduced stack size; the text is now refused before Yams sees it).
    @Test(arguments: [String(repeating: "[", count: 999) + String(repeating: "]", count: 999),
                      String(repeating: "{a: ", count: 999) + "1" + String(repeating: "}", count: 999),
                      String(repeating: "- ", count: 999) + "x", "a:\n" + String(repeating: "? ", count: 999) + "b",
                      String(repeating: "[", count: 100_000)])
    func deepNestingIsRefusedBeforeComposing(_ text: String) {
        let found = issues(text)
        #expect(found.count == 1 && found.first?.field == "(document)" && found.first?.rule.contains("too deeply") == true)
    }

    @Test func nestingBoundNeverUnderestimates() {
        #expect(SpecNesting.depthBound("a: [1, [2, {b: [3]}]]") >= 5)
        #expect(SpecNesting.depthBound("- - - x") >= 4)
        #expect(SpecNesting.depthBound(Self.good) <= 64)
        #expect(SpecNesting.depthBound(SampleStoryboards.text("cyber-lobster") ?? "") <= 64)
    }
}
