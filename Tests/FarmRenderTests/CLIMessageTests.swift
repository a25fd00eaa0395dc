import FarmCore
import FarmRender
import FarmTesting
import Foundation
import Testing

/// What the `reelfarm` executable says when something is wrong: exit status, and words that name what and where.
@Suite(.serialized, .ownThreads) struct CLIMessageTests {
    /// Runs `reelfarm` with a deadline, so a test that goes wrong fails instead of hanging.
    func cli(_ arguments: [String], seconds: Double = 50) throws -> ProcessRunner.Output {
        let out = try ProcessRunner.run(reelfarm, arguments, timeout: seconds)
        #expect(!out.timedOut, "reelfarm \(arguments.joined(separator: " ")) ran past \(seconds) s")
        return out
    }

    @Test(.timeLimit(.minutes(1))) func renderRefusesAMissingOutputFolderBeforeAnything() throws {
        let dir = try temporaryDirectory()
        let job = try Storyboards.write(Storyboards.threeShots())
        let film = dir.appendingPathComponent("missing/dir/x.mp4").path
        let out = try cli(["render", job.path, "-o", film])
        #expect(out.status == 1)
        #expect(out.stderr.contains("cannot write \(film): folder \(dir.path)/missing/dir does not exist (create it first)"),
                "stderr: \(out.stderr)")
        // One sentence, no progress and no Foundation error code.
        #expect(out.stderr.split(separator: "\n").count == 1 && !out.stderr.contains("NSCocoaErrorDomain"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("missing").path))
        // Checked before the storyboard is even read: nothing is generated for a film with nowhere to go.
        let bad = try Storyboards.write(Storyboards.threeShots().replacingOccurrences(of: "duration: 2.1", with: "duration: -2"))
        let first = try cli(["render", bad.path, "-o", film])
        #expect(first.status == 1 && first.stderr.contains("does not exist (create it first)"), "stderr: \(first.stderr)")
        let folder = try cli(["render", job.path, "-o", dir.path])
        #expect(folder.status == 1 && folder.stderr.contains("cannot write \(dir.path): it is a folder"), "\(folder.stderr)")
    }

    @Test(.timeLimit(.minutes(1))) func storyboardThatIsNotUTF8NamesTheByte() throws {
        var bytes = Data(Storyboards.threeShots().replacingOccurrences(of: "a short cut", with: "caf").utf8)
        let at = try #require(bytes.firstRange(of: Data("caf".utf8))).upperBound
        bytes.insert(0xE9, at: at)  // Latin-1 é
        let line = bytes[..<at].filter { $0 == 0x0A }.count + 1
        let job = try Storyboards.write("")
        try bytes.write(to: job)
        let out = try cli(["plan", job.path])
        #expect(out.status == 2)
        #expect(out.stderr.contains("\(job.path): not UTF-8 text: invalid byte 0xE9 at line \(line), byte offset \(at)"),
                "stderr: \(out.stderr)")
    }

    @Test(.timeLimit(.minutes(1))) func duplicateShotIDsNameTheirLine() throws {
        let job = try Storyboards.write(Storyboards.threeShots().replacingOccurrences(of: "id: cut", with: "id: wide"))
        let out = try cli(["plan", job.path])
        #expect(out.status == 2)
        #expect(out.stderr.contains("shots[2].id (line 7): \"wide\" is already the id of shots[0]"), "stderr: \(out.stderr)")
    }

    /// A keyframe that is not a PNG at all: `plan` decodes the images as `render` does.
    func storyboardWithCorruptKeyframe() throws -> (job: URL, image: String) {
        let text = Storyboards.threeShots().replacingOccurrences(
            of: "sound: hum}", with: "sound: hum, keyframes: [{at: 0, image: broken.png}]}")
        let job = try Storyboards.write(text)
        let image = job.deletingLastPathComponent().appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0x42, count: 64)).write(to: image)
        return (job, image.path)
    }

    @Test(.timeLimit(.minutes(1))) func planRefusesACorruptKeyframe() throws {
        let (job, image) = try storyboardWithCorruptKeyframe()
        let out = try cli(["plan", job.path])
        #expect(out.status == 2)
        #expect(out.stderr.contains("shots[0].keyframes[0].image") && out.stderr.contains("image \(image) cannot be decoded"),
                "stderr: \(out.stderr)")
        #expect(out.stdout.isEmpty)
    }

    @Test(.timeLimit(.minutes(1))) func ffmpegLogIsSilentUnlessVerbose() throws {
        let (job, _) = try storyboardWithCorruptKeyframe()
        let quiet = try cli(["plan", job.path])
        #expect(quiet.status == 2)
        // reelfarm's own lines only: FFmpeg's start with "[codec @ 0x…]".
        #expect(!quiet.stderr.contains(" @ 0x"), "stderr: \(quiet.stderr)")
        let verbose = try cli(["plan", job.path, "--verbose"])
        #expect(verbose.status == 2)
        #expect(verbose.stderr.contains(" @ 0x"), "stderr: \(verbose.stderr)")
    }

    @Test(.timeLimit(.minutes(1))) func verifyMarksTestCardChecksNotApplicableForAnotherEngine() throws {
        let dir = try temporaryDirectory()
        let film = dir.appendingPathComponent("film.mp4")
        _ = try renderInProcess(Storyboards.threeShots(), to: film)
        let mmdit = Storyboards.threeShots().replacingOccurrences(of: "engine: testcard", with: "engine: mmdit, config: small")
        let job = try Storyboards.write(mmdit)
        let out = try cli(["verify", film.path, "--job", job.path])
        #expect(out.status == 0, "stdout: \(out.stdout)\nstderr: \(out.stderr)")
        #expect(out.stdout.contains("engine mmdit: checks that apply: streams, durations"), "\(out.stdout)")
        for name in ["frame numbers", "flashes", "bursts", "join picture"] {
            #expect(out.stdout.split(separator: "\n").contains { $0.hasPrefix(name) && $0.contains("N/A") }, "\(name): \(out.stdout)")
        }
        #expect(!out.stdout.contains("FAIL"))
        #expect(out.stdout.contains("verify: all 2 checks passed"), "\(out.stdout)")
        // An applicable check still fails: the film's audio is 48 kHz, this storyboard says 44.1 kHz.
        let other = try Storyboards.write(mmdit.replacingOccurrences(of: "sample_rate: 48000", with: "sample_rate: 44100"))
        let wrong = try cli(["verify", film.path, "--job", other.path])
        #expect(wrong.status == 1 && wrong.stdout.contains("FAIL"), "\(wrong.stdout)")
    }

    @Test(.timeLimit(.minutes(3))) func progressOnAPipeIsPlainLines() throws {
        let film = try temporaryDirectory().appendingPathComponent("lobster.mp4")
        let out = try cli(["render", "sample:cyber-lobster", "-o", film.path, "--jobs", "2"], seconds: 170)
        #expect(out.status == 0, "stderr: \(out.stderr)")
        for (name, text) in [("stdout", out.stdout), ("stderr", out.stderr)] {
            #expect(!text.contains("\r"), "carriage return on \(name)")
            #expect(!text.contains("\u{1B}"), "escape code on \(name)")
        }
        #expect(out.stderr.contains("render: 100%"), "stderr: \(out.stderr)")
    }

    @Test(.timeLimit(.minutes(1))) func versionIsPrinted() throws {
        let out = try cli(["--version"])
        #expect(out.status == 0)
        #expect(out.stdout.wholeMatch(of: /reelfarm \d+\.\d+\.\d+\n/) != nil, "stdout: \(out.stdout)")
    }
}
