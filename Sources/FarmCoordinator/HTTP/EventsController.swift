import FlyingFox
import FlyingSocks
import Foundation

/// `GET /api/events`: Server-Sent Events. A `snapshot` event carries the farm (jobs, numbers, workers' totals)
/// whenever the loop publishes a new one (at most four a second), and a comment every 15 s keeps the connection
/// open through proxies and finds clients that left.
struct EventsController {
    let documents: SnapshotDocuments
    let streams: StreamCount

    /// The most event streams open at once.
    static let maxStreams = 64

    func addRoutes(to router: inout Router) {
        router.add("GET", "/api/events") { _ in
            guard streams.open(limit: Self.maxStreams) else {
                throw APIError(.serviceUnavailable, "too many event streams are open (\(Self.maxStreams))")
            }
            let events = SnapshotEvents(documents: documents, streams: streams)
            return HTTPResponse(statusCode: .ok,
                                headers: [.contentType: "text/event-stream", .cacheControl: "no-store",
                                          HTTPHeader("X-Accel-Buffering"): "no"],
                                body: HTTPBodySequence(from: events, suggestedBufferSize: 65_536))
        }
    }
}

/// How many event streams are open.
final class StreamCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func open(limit: Int) -> Bool {
        lock.withLock {
            guard count < limit else { return false }
            count += 1
            return true
        }
    }
    func close() { lock.withLock { count -= 1 } }
    var current: Int { lock.withLock { count } }
}

/// The bytes of one client's event stream: waits (polling the snapshot slot every 100 ms, never the loop) for the
/// next version.
struct SnapshotEvents: AsyncBufferedSequence, Sendable {
    typealias Element = UInt8
    let documents: SnapshotDocuments
    let streams: StreamCount

    func makeAsyncIterator() -> Iterator { Iterator(documents: documents, closer: Closer(streams)) }

    /// Counts the stream closed when its iterator goes away (the client left or the server stopped).
    final class Closer: @unchecked Sendable {
        let streams: StreamCount
        init(_ streams: StreamCount) { self.streams = streams }
        deinit { streams.close() }
    }

    struct Iterator: AsyncBufferedIteratorProtocol {
        let documents: SnapshotDocuments
        let closer: Closer
        var sent = -1
        var pending: [UInt8] = Array("retry: 2000\n\n".utf8)
        var lastWrite = ContinuousClock.now

        mutating func next() async throws -> UInt8? {
            guard let buffer = try await nextBuffer(suggested: 1), let first = buffer.first else { return nil }
            pending.insert(contentsOf: buffer.dropFirst(), at: 0)
            return first
        }

        mutating func nextBuffer(suggested count: Int) async throws -> [UInt8]? {
            if !pending.isEmpty {
                defer { pending.removeAll() }
                return pending
            }
            while !Task.isCancelled {
                if let doc = try? documents.encoded(), doc.version != sent {
                    sent = doc.version
                    lastWrite = .now
                    return Array("event: snapshot\nid: \(doc.version)\ndata: ".utf8) + Array(doc.event)
                        + Array("\n\n".utf8)
                }
                if ContinuousClock.now - lastWrite >= .seconds(15) {
                    lastWrite = .now
                    return Array(": keep-alive\n\n".utf8)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }
    }
}
