import FarmCore
import Foundation

extension MMDiTEngine {
    /// The engine a storyboard's `model` asks for: configuration `model.config` (default: the weights file's, else
    /// `small`), weights loaded from `model.weights` or drawn from `model.seed`.
    /// - Throws: ``SpecError`` naming `model.config` for an unknown configuration, or `model.weights` for a file
    ///   that is missing, malformed or made for another configuration.
    public init(model: ModelSpec, source: String = "storyboard") throws(SpecError) {
        var config: MMDiTConfig?
        if let name = model.config {
            guard let c = MMDiTConfig.named(name) else {
                let known = MMDiTConfig.names.joined(separator: ", ")
                let rule = "unknown mmdit configuration \"\(name)\" (have: \(known))"
                throw SpecError(source: source, issues: [SpecIssue(field: "model.config", rule: rule)])
            }
            config = c
        }
        let weights: ModelWeights
        if let path = model.weights {
            do {
                weights = try ModelWeights.load(contentsOf: URL(fileURLWithPath: path), expecting: config)
            } catch {
                throw SpecError(source: source, issues: [SpecIssue(field: "model.weights", rule: error.description)])
            }
        } else {
            weights = ModelWeights.seeded(config ?? MMDiTConfig.named("small")!, seed: model.seed)
        }
        self.init(model: MMDiT(weights: weights))
    }
}
