import FarmCore

/// An engine's latent grid as the contract (and a worker's `hello`) carries it.
public struct GeometryDocument: Codable, Sendable, Equatable {
    public var temporalStride: Int
    public var causal: Bool
    public var spatialStride: Int
    public var spatialMultiple: Int
    public var latentChannels: Int
    public var maxWindow: Int
    public var stepLayout: StepLayout
    public var nativeAudioRate: Int?

    public struct StepLayout: Codable, Sendable, Equatable {
        public var spatial: Bool
        public var audio: [Int]
    }

    public init(_ g: EngineGeometry) {
        temporalStride = g.temporalStride
        causal = true
        spatialStride = g.spatialStride
        spatialMultiple = g.spatialMultiple
        latentChannels = g.latentChannels
        maxWindow = g.maxWindow
        stepLayout = StepLayout(spatial: g.stepLayout.spatial, audio: g.stepLayout.audio)
        nativeAudioRate = g.nativeAudioRate
    }

    /// The geometry, every number range-checked.
    /// - Throws: ``WireError`` naming the field and its rule.
    public func geometry() throws(WireError) -> EngineGeometry {
        func check(_ ok: Bool, _ what: String) throws(WireError) {
            if !ok { throw WireError(.badPayload, "geometry: \(what)") }
        }
        try check(causal, "causal must be true (contract 1 knows only the causal 1 + stride·k rule)")
        try check((1...64).contains(temporalStride), "temporal_stride \(temporalStride) is outside 1...64")
        try check((1...256).contains(spatialStride), "spatial_stride \(spatialStride) is outside 1...256")
        try check((1...1_024).contains(spatialMultiple), "spatial_multiple \(spatialMultiple) is outside 1...1024")
        try check((1...65_536).contains(latentChannels), "latent_channels \(latentChannels) is outside 1...65536")
        try check((1...100_000).contains(maxWindow) && (maxWindow - 1) % temporalStride == 0,
                  "max_window \(maxWindow) is not 1 + \(temporalStride)·k frames in 1...100000")
        try check((1...4).contains(stepLayout.audio.count) && stepLayout.audio.allSatisfy { (0...65_536).contains($0) },
                  "step_layout.audio \(stepLayout.audio.prefix(8)) is not 1 to 4 sizes in 0...65536")
        let values = stepLayout.audio.reduce(into: 1) { n, d in n = n.multipliedReportingOverflow(by: d).overflow ? Int.max : n * d }
        try check(values <= 1 << 24, "step_layout.audio holds more than 2^24 values")
        if let r = nativeAudioRate { try check((1_000...768_000).contains(r), "native_audio_rate \(r) is outside 1000...768000") }
        return EngineGeometry(temporalStride: temporalStride, spatialStride: spatialStride, latentChannels: latentChannels,
                              maxWindow: maxWindow, stepLayout: LatentStepLayout(spatial: stepLayout.spatial, audio: stepLayout.audio),
                              spatialMultiple: spatialMultiple, nativeAudioRate: nativeAudioRate)
    }
}

