import CZeroMQ
import Foundation

/// A libzmq context: owns the I/O threads; sockets are made from it.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() {
        handle = zmq_ctx_new()
    }

    /// A context for many sockets (libzmq's default allows 1 023), e.g. a swarm of simulated workers.
    public init(maxSockets: Int32, ioThreads: Int32 = 1) {
        handle = zmq_ctx_new()
        zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, maxSockets)
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
    }

    deinit { zmq_ctx_term(handle) }

    /// libzmq's version, e.g. `4.3.4`.
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

/// One ZeroMQ socket. Not thread-safe: create, use and close it on one thread.
public final class ZMQSocket {
    /// The socket types reelfarm uses.
    public enum Kind: Int32 {
        case router, dealer, pair, rep
        var raw: Int32 {
            switch self {
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .pair: return ZMQ_PAIR
            case .rep: return ZMQ_REP
            }
        }
    }

    private var handle: UnsafeMutableRawPointer?
    private let context: ZMQContext

    public init(_ context: ZMQContext, _ kind: Kind) throws(ZMQError) {
        self.context = context
        guard let h = zmq_socket(context.handle, kind.raw) else {
            throw ZMQError(operation: "zmq_socket", code: CZeroMQ_errno())
        }
        handle = h
        var linger: Int32 = 0
        try zmqCheck(zmq_setsockopt(h, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size), "zmq_setsockopt(LINGER)")
    }

    deinit { close() }

    public func close() {
        if let h = handle { zmq_close(h) }
        handle = nil
    }

    var socket: UnsafeMutableRawPointer {
        get throws(ZMQError) {
            guard let handle else { throw ZMQError(operation: "socket closed", code: 88 /* ENOTSOCK */) }
            return handle
        }
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        try zmqCheck(zmq_bind(try socket, endpoint), "zmq_bind(\(endpoint))")
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        try zmqCheck(zmq_connect(try socket, endpoint), "zmq_connect(\(endpoint))")
    }

    /// Sets the identity a ROUTER peer sees for this socket.
    public func setIdentity(_ id: [UInt8]) throws(ZMQError) {
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_ROUTING_ID, id, id.count), "zmq_setsockopt(ROUTING_ID)")
    }

    /// Largest inbound message libzmq accepts; bigger ones drop the peer's connection.
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        var v = bytes
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size), "zmq_setsockopt(MAXMSGSIZE)")
    }

    /// Milliseconds a receive waits before throwing a `wouldBlock` error (-1: forever).
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        var v = milliseconds
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_RCVTIMEO, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(RCVTIMEO)")
    }

    /// Sends every frame of one multipart message.
    /// - Parameter dontWait: fail with `wouldBlock` instead of waiting when the peer's queue is full or the peer
    ///   is unknown (ROUTER with mandatory routing).
    public func send(_ frames: [Data], dontWait: Bool = false) throws(ZMQError) {
        let s = try socket
        for (i, frame) in frames.enumerated() {
            let flags = (i + 1 < frames.count ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
            try zmqCheck(frame.withUnsafeBytes { zmq_send(s, $0.baseAddress, $0.count, flags) }, "zmq_send")
        }
    }

    /// Sends one multipart message through a ROUTER: `identity` names the peer, `frames` are the message.
    public func send(to identity: Data, _ frames: [Data], dontWait: Bool = false) throws(ZMQError) {
        let s = try socket
        let wait = dontWait ? ZMQ_DONTWAIT : 0
        try zmqCheck(identity.withUnsafeBytes { zmq_send(s, $0.baseAddress, $0.count, ZMQ_SNDMORE | wait) }, "zmq_send")
        for (i, frame) in frames.enumerated() {
            let flags = (i + 1 < frames.count ? ZMQ_SNDMORE : 0) | wait
            try zmqCheck(frame.withUnsafeBytes { zmq_send(s, $0.baseAddress, $0.count, flags) }, "zmq_send")
        }
    }

    /// Receives one whole multipart message, or `nil` when `dontWait` and none is waiting.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [Data]? {
        let s = try socket
        var frames: [Data] = []
        frames.reserveCapacity(4)  // identity, header, metadata and a blob without growing
        var more = true
        while more {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let flags = dontWait && frames.isEmpty ? ZMQ_DONTWAIT : 0
            do {
                try zmqCheck(zmq_msg_recv(&msg, s, flags), "zmq_msg_recv")
            } catch where error.wouldBlock && dontWait && frames.isEmpty {
                return nil
            }
            let size = zmq_msg_size(&msg)
            frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(&msg), count: size))
            more = zmq_msg_more(&msg) != 0
        }
        return frames
    }

    /// Waits up to `milliseconds` for a message to arrive; `true` when one is waiting.
    public func poll(milliseconds: Int) throws(ZMQError) -> Bool {
        var item = zmq_pollitem_t(socket: try socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let n = try zmqCheck(zmq_poll(&item, 1, milliseconds), "zmq_poll")
        return n > 0 && item.revents & Int16(ZMQ_POLLIN) != 0
    }

    /// The endpoint actually bound (resolves a `*` port).
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 256)
            var size = buffer.count
            try zmqCheck(zmq_getsockopt(try socket, ZMQ_LAST_ENDPOINT, &buffer, &size), "zmq_getsockopt(LAST_ENDPOINT)")
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Makes a ROUTER fail sends to unknown peers instead of dropping them silently.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        var v: Int32 = on ? 1 : 0
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_ROUTER_MANDATORY, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(ROUTER_MANDATORY)")
    }

    /// The listen backlog of sockets it binds afterwards (libzmq's default is 100: a ramp of connecting workers
    /// overflows it and their connects wait for retries).
    public func setBacklog(_ connections: Int32) throws(ZMQError) {
        var v = connections
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_BACKLOG, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(BACKLOG)")
    }

    /// Messages queued per peer before sends block or fail (both directions).
    public func setHighWaterMark(_ messages: Int32) throws(ZMQError) {
        var v = messages
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_SNDHWM, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(SNDHWM)")
        try zmqCheck(zmq_setsockopt(try socket, ZMQ_RCVHWM, &v, MemoryLayout<Int32>.size), "zmq_setsockopt(RCVHWM)")
    }
}
