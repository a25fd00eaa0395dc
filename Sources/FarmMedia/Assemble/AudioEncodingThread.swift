import CFFmpeg
import FarmCore
import Foundation

/// Runs an ``AACEncoder`` over the film's PCM pieces on a thread of its own and hands its packets, in order, to the
/// muxing thread, so the audio encode (the slowest part of assembly) overlaps reading, checking and muxing the chunks.
///
/// `@unchecked Sendable`: every mutable property is guarded by `condition`; packets belong to the queue until
/// ``takeFirst()`` hands one to the caller.
final class AudioEncodingThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var packets: [UnsafeMutablePointer<AVPacket>] = []
    /// Index of the first packet not yet taken.
    private var head = 0
    private var done = false
    private var stopRequested = false
    private var failure: (any Error)?

    /// Starts encoding at once, reading `parts`' audio pieces in order (`total` samples per channel in all).
    init(encoder: AACEncoder, parts: some FilmParts, total: Int) {
        let thread = Thread { [self] in
            do {
                try encoder.encode(parts, total: total) { self.put($0) }
                self.finish(failure: nil)
            } catch {
                self.finish(failure: error)
            }
        }
        thread.name = "reelfarm.aac"
        thread.start()
    }

    deinit {
        for index in head ..< packets.count {
            var packet: UnsafeMutablePointer<AVPacket>? = packets[index]
            av_packet_free(&packet)
        }
    }

    /// The next packet, left in the queue; waits for the encoder. `nil` once every packet has been taken.
    /// - Throws: the encoder's error, once the packets before it have been taken.
    func peek() throws -> UnsafeMutablePointer<AVPacket>? {
        condition.lock()
        defer { condition.unlock() }
        while head == packets.count && !done {
            condition.wait()
        }
        if head < packets.count { return packets[head] }
        if let failure { throw failure }
        return nil
    }

    /// Removes the packet ``peek()`` returned; the caller now owns it and frees it with `av_packet_free`.
    func takeFirst() -> UnsafeMutablePointer<AVPacket> {
        condition.lock()
        defer { condition.unlock() }
        precondition(head < packets.count, "takeFirst() without a packet from peek()")
        head += 1
        return packets[head - 1]
    }

    /// Asks the encoder to stop early (no-op when it has finished) and waits until its thread is done.
    func stopAndWait() {
        condition.lock()
        defer { condition.unlock() }
        stopRequested = true
        while !done {
            condition.wait()
        }
    }

    /// Queues a packet from the encoder; `false` (and the packet freed) when the muxer asked to stop.
    private func put(_ packet: UnsafeMutablePointer<AVPacket>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopRequested else {
            var unused: UnsafeMutablePointer<AVPacket>? = packet
            av_packet_free(&unused)
            return false
        }
        packets.append(packet)
        condition.broadcast()
        return true
    }

    private func finish(failure: (any Error)?) {
        condition.lock()
        defer { condition.unlock() }
        self.failure = failure
        done = true
        condition.broadcast()
    }
}
