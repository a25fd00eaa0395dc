import FarmCore
import Foundation
import Testing

/// Every broken rule names its line, and bytes that are not UTF-8 are refused with where they stand.
@Suite struct SpecMessageTests {
    func issues(_ text: String) -> [SpecIssue] {
        do {
            _ = try JobSpec.parse(text, source: "test")
            return []
        } catch {
            return error.issues
        }
    }

    let header = """
        title: lines
        output: {width: 320, height: 192, fps: 24, sample_rate: 48000, channels: 2}
        model: {engine: testcard, window: 33, overlap: 9}
        shots:
        """

    @Test func duplicateShotIDNamesItsLine() {
        let text = header + """

              - id: a
                duration: 1
                prompt: p
              - id: a
                duration: 1
                prompt: q
            """
        let found = issues(text)
        let dup = found.first { $0.field == "shots[1].id" }
        #expect(dup?.line == 8, "\(found)")
        #expect(dup?.description == "shots[1].id (line 8): \"a\" is already the id of shots[0]")
    }

    /// A shot that cannot be read must not shift the others: the rules across shots would run on shots[1] as if it
    /// were shots[0] (the dashboard once showed "shots[0].transition (line 5): the first shot has no previous shot to
    /// continue" for a second shot that continues a first one with a bad duration).
    @Test func aBrokenShotLeavesTheOthersTheirIndices() {
        let text = header + """

              - {id: a, duration: -1, prompt: p}
              - {id: b, duration: 1, prompt: q, transition: continue}
            """
        let found = issues(text)
        #expect(found.map(\.description) == ["shots[0].duration (line 5): must be > 0 (got -1)"], "\(found)")
    }

    @Test func timesOutsideTheShotNameTheirLines() {
        let text = header + """

              - id: a
                duration: 1
                prompt: p
                cues:
                  - {at: 0.5, sound: ok}
                  - {at: 2, sound: late}
                keyframes:
                  - {at: 3, image: k.png}
            """
        let found = issues(text)
        let cue = found.first { $0.field == "shots[0].cues[1].at" }
        let key = found.first { $0.field == "shots[0].keyframes[0].at" }
        #expect(cue?.line == 10, "\(found)")
        #expect(key?.line == 12, "\(found)")
        #expect(cue?.description.hasPrefix("shots[0].cues[1].at (line 10): must be inside the shot") == true)
    }

    @Test func shorterThanAFrameNamesTheShotsLine() {
        let text = header + "\n  - {id: a, duration: 0.01, prompt: p}\n"
        let found = issues(text)
        #expect(found.first { $0.field == "shots[0].duration" }?.line == 5, "\(found)")
    }

    @Test func notUTF8NamesTheByteLineAndOffset() throws {
        var data = Data((header + "\n  - {id: a, duration: 1, prompt: \"caf").utf8)
        let offset = data.count
        data.append(contentsOf: [0xE9, UInt8(ascii: "\""), UInt8(ascii: "}"), 0x0A])  // Latin-1 é
        do {
            _ = try JobSpec.parse(data, source: "storyboard.yaml")
            Issue.record("Latin-1 text was accepted")
        } catch {
            #expect(error.description == "storyboard.yaml: not UTF-8 text: invalid byte 0xE9 at line 5, byte offset \(offset)")
        }
        // The same text in UTF-8 parses.
        var good = Data((header + "\n  - {id: a, duration: 1, prompt: \"caf").utf8)
        good.append(contentsOf: Array("é\"}\n".utf8))
        #expect(try JobSpec.parse(good, source: "storyboard.yaml").shots[0].prompt == "café")
    }
}
