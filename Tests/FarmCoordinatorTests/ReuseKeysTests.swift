@testable import FarmCoordinator
import FarmCore
import FarmTestCard
import Testing

/// What a task's reuse key covers: a change reaches the keys of the tasks it decides, and only those.
@Suite struct ReuseKeysTests {
    func keys(_ text: String, version: String? = "reelfarm 1", assets: [String: String] = [:]) throws -> [String: String] {
        let job = try JobContext(spec: try JobSpec.parse(text, source: "t.yaml", checkingFiles: false),
                                 geometry: TestCardEngine().geometry)
        return ReuseKeys.keys(for: job, engineVersion: version, assets: assets)
    }

    static let six = RevisionTests.sixShots.replacingOccurrences(of: "engine: mmdit, config: tiny,", with: "engine: testcard,")

    func changed(_ a: [String: String], _ b: [String: String]) -> Set<String> {
        Set(a.keys.filter { a[$0] != b[$0] })
    }

    @Test func aPromptChangesItsShotAndTheShotsThatContinueIt() throws {
        let base = try keys(Self.six)
        #expect(base.count == 8 && Set(base.values).count == 8)
        #expect(try keys(Self.six) == base)  // the same storyboard, the same keys
        let prompt = try keys(Self.six.replacingOccurrences(of: "a red boat leaves the harbour", with: "a blue boat"))
        #expect(changed(base, prompt) == ["boat/0", "boat/1", "wake/0"])
        let sound = try keys(Self.six.replacingOccurrences(of: "sound: wings", with: "sound: rain"))
        #expect(changed(base, sound) == ["gull/0", "sky/0"])
    }

    @Test func engineStepsFormatAndVersionChangeEveryKey() throws {
        let base = try keys(Self.six)
        #expect(changed(base, try keys(Self.six.replacingOccurrences(of: "steps: 2", with: "steps: 3"))).count == 8)
        #expect(changed(base, try keys(Self.six.replacingOccurrences(of: "sample_rate: 48000", with: "sample_rate: 44100"))).count == 8)
        #expect(changed(base, try keys(Self.six, version: "reelfarm 2")).count == 8)
        #expect(changed(base, try keys(Self.six, version: nil)).count == 8)
    }

    /// A longer shot moves every later shot: their frames and samples are other ones, so they run again.
    @Test func aLongerShotMovesTheShotsAfterIt() throws {
        let base = try keys(Self.six)
        let longer = try keys(Self.six.replacingOccurrences(of: "{id: quay, frames: 12", with: "{id: quay, frames: 13"))
        #expect(changed(base, longer) == Set(base.keys).subtracting(["dawn/0", "dawn/1"]))
    }

    @Test func aKeyframeImageChangesOnlyItsShot() throws {
        let text = Self.six.replacingOccurrences(
            of: "{id: gull, frames: 12, prompt: \"a gull lands on a post\"",
            with: "{id: gull, frames: 12, prompt: \"a gull lands on a post\", keyframes: [{at: 0, image: gull.png}]")
        let path = try #require(try JobSpec.parse(text, source: "t.yaml", checkingFiles: false).imagePaths.first)
        let a = try keys(text, assets: [path: "aaaa"])
        let b = try keys(text, assets: [path: "bbbb"])
        #expect(changed(a, b) == ["gull/0", "sky/0"])
    }
}
