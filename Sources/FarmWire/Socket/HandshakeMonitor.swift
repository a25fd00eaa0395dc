import CZeroMQ
import Foundation

/// What libzmq's socket monitor said about a connection's handshake (ZMTP greeting, CURVE, ZAP).
public struct HandshakeEvent: Sendable, Equatable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        case succeeded
        /// Both ends do not use the same security mechanism (one uses CURVE, the other plain TCP).
        case mechanismMismatch
        /// The CURVE boxes do not open: the client holds the wrong server public key (or the server the wrong pair).
        case cryptographic
        /// The server's ZAP handler refused the client's key; `status` is its code (400: not authorized).
        case refusedKey(status: Int)
        /// Another protocol failure (`code` is libzmq's `ZMQ_PROTOCOL_ERROR_*`).
        case protocolError(code: UInt32)
        case noDetail(errno: UInt32)
    }

    public var outcome: Outcome
    /// The endpoint the event concerns (the connected address on a client, the listening one on a server).
    public var endpoint: String

    public var isFailure: Bool { outcome != .succeeded }

    /// One line a person can act on, seen from a client (`asServer: false`) or the coordinator; `secured` says
    /// whether this side uses CURVE (it decides what a bare "connection closed" most likely means).
    public func explanation(asServer: Bool, secured: Bool = false) -> String {
        switch (outcome, asServer) {
        case (.succeeded, _):
            return "handshake with \(endpoint) succeeded"
        case (.mechanismMismatch, false):
            return "\(endpoint) refused the connection: security mismatch (the coordinator uses CURVE and this peer "
                + "has no --coordinator-key, or the other way round)"
        case (.mechanismMismatch, true):
            return "refused a peer on \(endpoint): it does not use CURVE (it needs the coordinator's public key)"
        case (.cryptographic, false):
            return "\(endpoint) refused the connection: CURVE handshake failed (is --coordinator-key the "
                + "coordinator's public key, DATA/curve/coordinator.pub?)"
        case (.cryptographic, true):
            return "refused a peer on \(endpoint): its CURVE handshake failed (it holds a wrong coordinator public key)"
        case (.refusedKey(300), false):
            return "\(endpoint) turned this peer away for now: the coordinator is at the most peers its descriptor limit "
                + "allows (ulimit -n); retrying"
        case (.refusedKey(300), true):
            return "turned a peer on \(endpoint) away: too many peers for the descriptor limit"
        case (.refusedKey(let status), false):
            return "\(endpoint) refused this peer's key (ZAP status \(status)): add this peer's public key to the "
                + "coordinator's --authorized-keys file"
        case (.refusedKey(let status), true):
            return "refused a peer on \(endpoint): its key is not authorized (ZAP status \(status))"
        case (.protocolError(let code), _):
            return "handshake with \(endpoint) failed: protocol error 0x\(String(code, radix: 16))"
        case (.noDetail(let e), false):
            return "\(endpoint) closed the connection during the handshake (errno \(e)): "
                + (secured ? "is --coordinator-key the coordinator's public key, and is this peer's key authorized?"
                           : "a coordinator using CURVE needs --coordinator-key (its public key)")
        case (.noDetail(let e), true):
            return "a peer on \(endpoint) failed the handshake (errno \(e))"
        }
    }

    public var description: String { explanation(asServer: false) }
}

/// Reads a socket's handshake events from libzmq's socket monitor (an inproc PAIR socket), without blocking.
/// Not thread-safe: use it on the thread that owns the monitored socket.
public final class HandshakeMonitor {
    private let pair: ZMQSocket
    nonisolated(unsafe) private static var counter = 0
    private static let lock = NSLock()

    /// Starts monitoring `socket` (before it binds or connects, so no event is missed).
    public init(_ socket: ZMQSocket, context: ZMQContext) throws(ZMQError) {
        let n = Self.lock.withLock {
            Self.counter += 1
            return Self.counter
        }
        let address = "inproc://reelfarm-monitor-\(n)"
        let events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        try zmqCheck(zmq_socket_monitor(try socket.socket, address, events), "zmq_socket_monitor")
        pair = try ZMQSocket(context, .pair)
        try pair.connect(address)
    }

    /// Events that arrived since the last call.
    public func events() -> [HandshakeEvent] {
        var out: [HandshakeEvent] = []
        while out.count < 1_000, let frames = try? pair.receive(dontWait: true) {
            guard frames.count == 2, frames[0].count == 6 else { continue }
            let bytes = [UInt8](frames[0])
            let event = Int32(UInt16(bytes[0]) | UInt16(bytes[1]) << 8)
            let value = UInt32(bytes[2]) | UInt32(bytes[3]) << 8 | UInt32(bytes[4]) << 16 | UInt32(bytes[5]) << 24
            let endpoint = String(decoding: frames[1].prefix(256), as: UTF8.self)
            let outcome: HandshakeEvent.Outcome
            switch event {
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: outcome = .succeeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: outcome = .refusedKey(status: Int(value))
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
                switch Int32(bitPattern: value) {
                case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: outcome = .mechanismMismatch
                case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: outcome = .cryptographic
                default:
                    // Greeting/command errors on a CURVE socket are what a wrong key looks like from either side.
                    outcome = .protocolError(code: value)
                }
            default: outcome = .noDetail(errno: value)
            }
            out.append(HandshakeEvent(outcome: outcome, endpoint: endpoint))
        }
        return out
    }

    public func close() { pair.close() }
}

extension ZMQSocket {
    /// Milliseconds a blocking send waits before failing with `wouldBlock` (-1: forever).
    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        var v = milliseconds
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_SNDTIMEO, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(SNDTIMEO)")
    }

    /// Queue messages only to connections whose handshake completed (a DEALER then holds nothing for a refused peer).
    /// The ZAP domain: with it set, peers without CURVE are put to the ZAP handler too (``CurveAuthenticator``).
    public func setZAPDomain(_ domain: String) throws(ZMQError) {
        let bytes = Array(domain.utf8)
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_ZAP_DOMAIN, bytes, bytes.count), "zmq_setsockopt(ZAP_DOMAIN)")
    }

    public func setImmediate(_ on: Bool) throws(ZMQError) {
        var v: Int32 = on ? 1 : 0
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_IMMEDIATE, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(IMMEDIATE)")
    }

    /// Sends one message, waiting at most `milliseconds` for room (a DEALER has none while no connection has
    /// completed its handshake).
    /// - Returns: `false` when the deadline passed and nothing was sent.
    public func send(_ frames: [Data], waitingAtMost milliseconds: Int) throws(ZMQError) -> Bool {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, milliseconds)) * 1_000_000
        while true {
            do {
                try send(frames, dontWait: true)
                return true
            } catch where error.wouldBlock {
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else { return false }
                var item = zmq_pollitem_t(socket: try socket, fd: 0, events: Int16(ZMQ_POLLOUT), revents: 0)
                _ = zmq_poll(&item, 1, max(1, min(50, Int((deadline - now) / 1_000_000))))
            }
        }
    }
}
