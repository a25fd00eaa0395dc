#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The two pipe ends one side of the contract speaks through, with a deadline on every read and write.
///
/// Both descriptors are non-blocking; waits go through `poll`, so no call blocks past its deadline however the
/// peer behaves (silent, stuck mid-message, or flooding).
public final class EngineChannel: @unchecked Sendable {
    let input: Int32
    let output: Int32

    /// Speaks through `input` (messages in) and `output` (messages out); both are made non-blocking.
    public init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
        for fd in [input, output] {
            let flags = fcntl(fd, F_GETFL)
            if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        }
        // Bigger pipe buffers (Linux F_SETPIPE_SZ): frames move in fewer wake-ups. Best effort.
        #if os(Linux)
        _ = fcntl(input, 1031, Int32(1 << 20))
        _ = fcntl(output, 1031, Int32(1 << 20))
        #endif
    }

    /// The peer is gone, silent past the deadline, or the descriptor failed.
    public struct ChannelError: Error, Sendable, CustomStringConvertible {
        public enum Reason: Sendable { case closed, timedOut, failed }
        public var reason: Reason
        public var description: String
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Waits until `fd` is ready for `events` or the deadline (monotonic seconds) passes.
    private func wait(_ fd: Int32, _ events: Int16, until deadline: Double, doing what: String) throws(ChannelError) {
        while true {
            let left = deadline - Self.now()
            guard left > 0 else { throw ChannelError(reason: .timedOut, description: "\(what): no answer before the deadline") }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, Int32(min(left * 1000 + 1, 1_000)))
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw ChannelError(reason: .failed, description: "\(what): poll failed (errno \(errno))") }
        }
    }

    /// Writes all of `bytes` before `deadline`.
    func write(_ bytes: UnsafeRawBufferPointer, until deadline: Double) throws(ChannelError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(output, base + done, min(bytes.count - done, 1 << 22))
            if n > 0 { done += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                try wait(output, Int16(POLLOUT), until: deadline, doing: "writing to the engine")
                continue
            }
            throw ChannelError(reason: .closed, description: "the peer closed its end (write: errno \(errno))")
        }
    }

    /// Fills `buffer` completely before `deadline`.
    func read(into buffer: UnsafeMutableRawBufferPointer, until deadline: Double) throws(ChannelError) {
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(input, base + done, buffer.count - done)
            if n > 0 { done += n; continue }
            if n == 0 { throw ChannelError(reason: .closed, description: "the peer closed its end after \(done) of \(buffer.count) bytes") }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(input, Int16(POLLIN), until: deadline, doing: "reading from the peer")
                continue
            }
            throw ChannelError(reason: .failed, description: "read failed (errno \(errno))")
        }
    }

    /// Sends `message` before `deadline`.
    public func send(_ message: EngineMessage, until deadline: Double) throws {
        var head = EngineMessage.header(kind: message.kind, metaCount: message.meta.count, blobCount: message.blobs.count)
        head += message.meta
        try head.withUnsafeBytes { p in try write(p, until: deadline) }
        for blob in message.blobs {
            var size = UInt64(blob.count).littleEndian
            try withUnsafeBytes(of: &size) { p in try write(p, until: deadline) }
            try blob.withUnsafeBytes { p in try write(p, until: deadline) }
        }
    }

    /// Whether a message has started to arrive (a poll with no wait).
    public func hasInput() -> Bool {
        var p = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// Receives one message before `deadline`, refusing one whose blobs total more than `maxBytes`.
    /// - Throws: ``ChannelError`` (closed, timed out) or ``EngineContractError`` (bad framing, past a limit).
    public func receive(until deadline: Double, maxBytes: Int = 1 << 30) throws -> EngineMessage {
        var head = [UInt8](repeating: 0, count: EngineMessage.headerSize)
        try head.withUnsafeMutableBytes { p in try read(into: p, until: deadline) }
        let (kind, metaCount, blobCount) = try EngineMessage.parseHeader(head)
        var meta = Data(count: metaCount)
        try meta.withUnsafeMutableBytes { p in try read(into: p, until: deadline) }
        var blobs: [Data] = []
        var total = 0
        for i in 0..<blobCount {
            var size: UInt64 = 0
            try withUnsafeMutableBytes(of: &size) { p in try read(into: p, until: deadline) }
            let n = UInt64(littleEndian: size)
            // Checked before allocating: a hostile length must not make us reserve memory.
            guard n <= EngineMessage.maxBlobBytes, Int(n) <= maxBytes - total else {
                throw EngineContractError("\(kind) blob \(i) of \(n) bytes: more than this message may carry (\(maxBytes) bytes in all)")
            }
            total += Int(n)
            var blob = Data(count: Int(n))
            try blob.withUnsafeMutableBytes { p in try read(into: p, until: deadline) }
            blobs.append(blob)
        }
        return EngineMessage(kind, meta: meta, blobs: blobs)
    }
}
