import Dispatch
import Foundation

/// Splits elementwise work over the machine's cores.
///
/// Matrix products are parallelised by OpenBLAS; what runs between them (softmax, GELU, norms) would otherwise
/// run on one core while the others wait. Each chunk's arithmetic does not depend on how the work is split, so
/// the bits are the same on any number of cores.
enum Parallel {
    static let width = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` on contiguous chunks covering `0 ..< count`, concurrently when the work is large enough.
    /// - Parameter grain: the least number of items worth a chunk of its own.
    @inline(__always)
    static func chunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let parts = min(width, count / max(grain, 1))
        guard parts > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        // The chunks touch disjoint data (the callers' contract), so sharing `body` across threads is safe.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let shared = body
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                shared(count * p / parts..<count * (p + 1) / parts)
            }
        }
    }
}
