import CZeroMQ

/// A libzmq call that failed, with the call and libzmq's own explanation.
public struct ZMQError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32
    public var description: String { "\(operation): \(String(cString: zmq_strerror(code))) (errno \(code))" }

    /// The call timed out or would block (`EAGAIN`).
    public var wouldBlock: Bool { code == CZeroMQ_EAGAIN() }
}

/// Converts a libzmq return code into a thrown ``ZMQError``; the one place that reads `zmq_errno`.
@discardableResult
func zmqCheck(_ result: Int32, _ operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
    guard result < 0 else { return result }
    throw ZMQError(operation: operation(), code: CZeroMQ_errno())
}
