import FarmCore
import Foundation

/// Wraps an engine and sleeps after every denoising step: lets fault tests kill a worker or a coordinator while
/// a task is certainly running. Test-only; the CLI exposes it through a hidden worker option.
public struct DelayedEngine: Engine {
    public let inner: any Engine
    public let stepDelay: Double

    public init(_ inner: any Engine, stepDelay: Double) {
        self.inner = inner
        self.stepDelay = stepDelay
    }

    public var name: String { inner.name }
    public var geometry: EngineGeometry { inner.geometry }

    public func generate(_ task: SegmentTask, progress: ProgressHandler) throws -> SegmentResult {
        try inner.generate(task) { step, steps in
            try progress(step, steps)
            Thread.sleep(forTimeInterval: stepDelay)
        }
    }

    public func anchors(_ task: AnchorTask, progress: ProgressHandler) throws -> Latents {
        try inner.anchors(task, progress: progress)
    }
}
