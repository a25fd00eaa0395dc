@testable import FarmCoordinator
import FarmCore
import FarmStore
import FarmTesting
import FarmWire
import Foundation
import Testing
import Yams

/// The request parsers a client reaches, over many random inputs: they answer or refuse (naming a field), never trap.
@Suite(.timeLimit(.minutes(2))) struct DashboardParserTests {
    /// The timeline's hand-written JSON is the document `JSONEncoder` makes, for any text (quotes, backslashes,
    /// control characters, non-ASCII) and for open and ended attempts; a changed field name would fail it.
    @Test func theTimelineJSONIsTheEncodersDocument() throws {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["a", "\"", "\\", "\n", "\u{01}", "\u{1f}", "é", "片", "🎬", "/", " ", "\t", "'", "}"]
        func text() -> String { (0 ..< Int.random(in: 0 ... 8, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined() }
        for _ in 0 ..< 200 {
            let attempts = (0 ..< Int.random(in: 0 ... 6, using: &rng)).map { _ in
                let open = Bool.random(using: &rng)
                return AttemptTiming(job: text(), key: text(), number: Int.random(in: 0 ... 1_000, using: &rng),
                                     worker: text(), startedAt: Double.random(in: 0 ... 2e9, using: &rng),
                                     endedAt: open ? nil : Double.random(in: 0 ... 2e9, using: &rng),
                                     outcome: open ? nil : text(), error: Bool.random(using: &rng) ? nil : text())
            }
            let timeline = Timeline(since: Double.random(in: 0 ... 2e9, using: &rng), now: 1_796_091_949.25,
                                    attempts: attempts)
            let fast = try JSONSerialization.jsonObject(with: TimelineJSON.encode(timeline)) as? NSDictionary
            let slow = try JSONSerialization.jsonObject(with: WireJSON.encode(timeline)) as? NSDictionary
            #expect(fast != nil && fast == slow)
        }
    }

    @Test func byteRangesStayInsideTheFile() {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["bytes=", "-", ",", "0", "1", "99", "-5", " ", "x", "18446744073709551616", "bytes=0-", "=", "9"]
        for _ in 0 ..< 5_000 {
            let header = (0 ..< Int.random(in: 0 ... 6, using: &rng))
                .map { _ in pieces.randomElement(using: &rng) ?? "" }.joined()
            let size = Int.random(in: 0 ... 1_000, using: &rng)
            if let r = ByteRange.parse(header, size: size) {
                #expect(!r.isEmpty && r.lowerBound >= 0 && r.upperBound <= size, "\(header) of \(size): \(r)")
            }
        }
        #expect(ByteRange.parse("bytes=0-9", size: 100) == 0 ..< 10)
        #expect(ByteRange.parse("bytes=90-", size: 100) == 90 ..< 100)
        #expect(ByteRange.parse("bytes=-10", size: 100) == 90 ..< 100)
        #expect(ByteRange.parse("bytes=100-", size: 100) == nil)
        #expect(ByteRange.parse("bytes=0-1,5-6", size: 100) == nil)
    }

    @Test func submissionsAreCheckedFieldByField() {
        var rng = SystemRandomNumberGenerator()
        let values: [Any] = ["text", 1, -1, 1.5, true, NSNull(), ["a": "!!"], ["a.png": "aGVsbG8="], [1, 2], 2_000_000]
        let keys = ["storyboard", "priority", "source", "images", "other"]
        for _ in 0 ..< 2_000 {
            var object: [String: Any] = [:]
            for key in keys where Bool.random(using: &rng) { object[key] = values.randomElement(using: &rng) }
            guard let body = try? JSONSerialization.data(withJSONObject: object) else { continue }
            do {
                let (submit, blobs) = try SubmitController.parse(body)
                #expect(submit.assets?.count == blobs.count)
            } catch let e as APIError {
                #expect(e.field != nil && (400 ..< 500).contains(e.status.code), "\(object): \(e)")
            } catch {
                Issue.record("\(object): \(error)")
            }
        }
        // Each rule names its field.
        func field(_ json: String) -> String? {
            do {
                _ = try SubmitController.parse(Data(json.utf8))
                return nil
            } catch {
                return (error as? APIError)?.field
            }
        }
        #expect(field(#"{"priority": 1}"#) == "storyboard")
        #expect(field(#"{"storyboard": "x", "priority": 10000000}"#) == "priority")
        #expect(field(#"{"storyboard": "x", "images": {"a.png": "not base64!"}}"#) == "images.a.png")
        #expect(field(#"{"storyboard": "x", "source": ""}"#) == "source")
        #expect(field("[]") == "body")
        #expect(field(#"{"storyboard": "x", "revise": ""}"#) == "revise")
        let json = #"{"storyboard": "x", "revise": "j1", "reuse": false, "preview_first": true}"#
        let options = try? SubmitController.parse(Data(json.utf8))
        #expect(options?.0.revise == "j1" && options?.0.reuse == false && options?.0.previewFirst == true)
    }

    /// A request the loop does not take is answered with a timeout at its deadline; once the loop has exited every
    /// request is refused at once.
    @Test func theInboxAnswersEveryRequestByItsDeadline() async throws {
        let inbox = CommandInbox()
        await #expect(throws: CommandInbox.Failure.timedOut(seconds: 0.2)) {
            _ = try await inbox.ask(timeout: 0.2) { _ in 1 }
        }
        let waiting = inbox.take()
        #expect(waiting.count == 1 && waiting.allSatisfy { $0.deadline <= Coordinator.clock })
        inbox.close()
        await #expect(throws: CommandInbox.Failure.stopped) { _ = try await inbox.ask(timeout: 30) { _ in 1 } }
    }

    /// The loop publishes snapshots only while someone reads them, and a reader never takes a stale one for fresh.
    @Test func snapshotsArePublishedWhileRead() {
        let slot = SnapshotSlot()
        #expect(!slot.isWanted(now: 100))
        #expect(slot.read(now: 100) == nil)
        #expect(!slot.isWanted(now: 100))  // not enabled: no dashboard serves them
        slot.enable()
        #expect(slot.isWanted(now: 100 + SnapshotSlot.idleAfter / 2))
        #expect(!slot.isWanted(now: 100 + SnapshotSlot.idleAfter))
        let snapshot = FarmSnapshot(version: 1, time: 0, jobs: [], workers: WorkersReport(workers: [], refused: [:]),
                                    gauges: FarmGauges())
        slot.publish(snapshot, now: 200)
        #expect(slot.read(now: 200 + SnapshotSlot.staleAfter / 2)?.version == 1)
        #expect(slot.read(now: 200 + SnapshotSlot.staleAfter * 2) == nil)
        #expect(slot.snapshot?.version == 1)
    }

    @Test func loopbackHostNames() {
        for host in ["127.0.0.1", "127.0.0.1:8080", "localhost:1", "[::1]:8080", "127.1.2.3"] {
            #expect(AccessPolicy.isLoopbackHost(host), "\(host)")
        }
        let foreign = ["", "evil.example", "127.0.0.1.evil.example", "localhost.evil", "[::2]", "10.0.0.1:8080",
                       "127.0.0"]
        for host in foreign {
            #expect(!AccessPolicy.isLoopbackHost(host), "\(host)")
        }
    }
}
