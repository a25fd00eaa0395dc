import Foundation

/// `reelfarm bench inference`: how close one MMDiT forward pass comes to this machine's sgemm speed.
///
/// In one run it measures OpenBLAS's sgemm on a large square product, then times full forward passes of a
/// configuration (seeded weights, random latents, real text context) and divides the analytically counted FLOPs
/// (every linear layer and both attention products) by the median time. Also reported: the share of the forward
/// pass spent in joint attention, tokens per second, and the peak resident memory next to the bytes of weights
/// plus activations the pass needs.
public struct InferenceBenchmark: Sendable {
    public var config: MMDiTConfig
    public var width: Int
    public var height: Int
    public var frames: Int
    public var runs: Int
    /// Side of the square sgemm that stands for the machine's speed.
    public var sgemmSize: Int

    public init(
        config: MMDiTConfig, width: Int = 320, height: Int = 192, frames: Int = 33, runs: Int = 3,
        sgemmSize: Int = 2048
    ) {
        self.config = config
        self.width = width
        self.height = height
        self.frames = frames
        self.runs = runs
        self.sgemmSize = sgemmSize
    }

    /// The measured figures.
    public struct Result: Sendable, CustomStringConvertible {
        public var config: MMDiTConfig
        public var parameters: Int
        public var layout: TokenLayout
        public var textTokens: Int
        public var blasThreads: Int
        public var blasCore: String
        public var sgemmSize: Int
        public var sgemmGFLOPS: Double
        public var cost: ForwardCost
        public var forwardSeconds: [Double]
        public var attentionShare: Double
        public var weightBytes: Int
        public var activationBytes: Int
        public var peakBytes: Int

        public var median: Double { forwardSeconds.sorted()[forwardSeconds.count / 2] }
        public var effectiveGFLOPS: Double { cost.total / median / 1e9 }
        public var ratio: Double { effectiveGFLOPS / sgemmGFLOPS }
        public var tokensPerSecond: Double { Double(layout.videoTokens + layout.audioTokens) / median }

        public var description: String {
            let c = config
            let mib = { (b: Int) in Double(b) / 1_048_576 }
            let times = forwardSeconds.map { String(format: "%.3f", $0) }.joined(separator: ", ")
            return [
                String(
                    format: "model      %@: dim %d, %d heads × %d, %d blocks, MLP %d, %.1f M parameters (%.0f MiB)",
                    c.name, c.dim, c.heads, c.headDim, c.depth, c.mlpDim, Double(parameters) / 1e6, mib(weightBytes)),
                String(
                    format: "input      %d×%d, %d frames → %d latent steps: %d video + %d audio + %d text tokens",
                    layout.width * 8, layout.height * 8, 1 + (layout.steps - 1) * 4, layout.steps,
                    layout.videoTokens, layout.audioTokens, textTokens),
                String(
                    format: "sgemm      %d³: %.1f GFLOP/s (OpenBLAS %@, %d threads)", sgemmSize, sgemmGFLOPS, blasCore,
                    blasThreads),
                String(
                    format: "forward    %.1f GFLOP (%.1f linear + %.1f attention), %@ s, median %.3f s",
                    cost.total / 1e9, cost.linear / 1e9, cost.attention / 1e9, times, median),
                String(format: "effective  %.1f GFLOP/s", effectiveGFLOPS),
                String(format: "ratio      %.2f of sgemm (aim ≥ 0.70)", ratio),
                String(
                    format: "attention  %.1f%% of forward time (%.1f%% of its FLOPs)", 100 * attentionShare,
                    100 * cost.attention / cost.total),
                String(format: "tokens/s   %.0f (video + audio tokens per second of forward pass)", tokensPerSecond),
                String(
                    format: "memory     peak RSS %.0f MiB; weights %.0f MiB + activations %.1f MiB = %.0f MiB",
                    mib(peakBytes), mib(weightBytes), mib(activationBytes), mib(weightBytes + activationBytes)),
            ].joined(separator: "\n")
        }
    }

    /// Runs the benchmark; `log` hears progress.
    public func run(log: (String) -> Void) -> Result {
        let sgemm = measureSGEMM()
        log(String(format: "bench inference: sgemm %.1f GFLOP/s; drawing %@ weights…", sgemm, config.name))
        let weights = ModelWeights.seeded(config, seed: 1)
        let model = MMDiT(weights: weights)
        let steps = 1 + (frames - 1) / MMDiTConfig.temporalStride
        let layout = TokenLayout(config: config, steps: steps, height: height / 8, width: width / 8)
        let text = model.textContext(
            prompt: "A lobster legion marches across a neon seabed at dusk, slow dolly forward",
            sound: "deep sub-bass drone with clicking shells")
        let ws = Workspace(layout: layout, maxTextTokens: text.tokens)
        NoiseGenerator.fill(
            ws.videoIn.base, count: ws.videoIn.count, key: NoiseKey(seed: 1, segment: 0, stream: .video))
        NoiseGenerator.fill(
            ws.audioIn.base, count: ws.audioIn.count, key: NoiseKey(seed: 1, segment: 0, stream: .audio))
        let outV = FloatBuffer(count: layout.videoClipTokens * config.videoTokenOutputs)
        let outA = FloatBuffer(count: layout.audioTokens * config.audioTokenOutputs)
        log("bench inference: warm-up forward pass…")
        model.forward(ws, text: text, time: 0.7, videoOut: outV.base, audioOut: outA.base)
        ws.resetTimers()
        var times: [Double] = []
        for i in 0..<runs {
            let start = Workspace.now()
            model.forward(ws, text: text, time: 0.7, videoOut: outV.base, audioOut: outA.base)
            times.append(Double(Workspace.now() - start) / 1e9)
            log(String(format: "bench inference: forward %d: %.3f s", i + 1, times.last!))
        }
        return Result(
            config: config, parameters: weights.layout.count, layout: layout, textTokens: text.tokens,
            blasThreads: BLAS.threads, blasCore: BLAS.coreName, sgemmSize: sgemmSize, sgemmGFLOPS: sgemm,
            cost: MMDiT.cost(config, layout: layout, textTokens: text.tokens), forwardSeconds: times,
            attentionShare: ws.attentionSeconds / ws.forwardSeconds, weightBytes: weights.byteCount,
            activationBytes: ws.byteCount, peakBytes: PeakMemory.bytes)
    }

    /// Best of a few `n × n × n` products after a warm-up, in GFLOP/s.
    func measureSGEMM() -> Double {
        let n = sgemmSize
        let a = FloatBuffer(count: n * n)
        let b = FloatBuffer(count: n * n)
        let c = FloatBuffer(count: n * n)
        NoiseGenerator.fill(a.base, count: a.count, key: NoiseKey(seed: 2, segment: 0, stream: .video))
        NoiseGenerator.fill(b.base, count: b.count, key: NoiseKey(seed: 3, segment: 0, stream: .video))
        var best = Double.infinity
        for _ in 0..<4 {
            let start = Workspace.now()
            BLAS.gemm(.none, .none, m: n, n: n, k: n, a: a.base, lda: n, b: b.base, ldb: n, c: c.base, ldc: n)
            best = min(best, Double(Workspace.now() - start) / 1e9)
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }
}
