import FarmCore
import FarmInference
import FarmTestCard

/// Finds the engine a storyboard's `model.engine` names.
public enum EngineRegistry {
    /// Engine names this build can run.
    public static let names = ["testcard", "mmdit"]

    /// What a coordinator plans with: a built-in engine's grid, or nil for any other name (engine processes on the
    /// workers declare theirs).
    public static func plannedGeometry(for model: ModelSpec) throws(SpecError) -> EngineGeometry? {
        names.contains(model.engine) ? try geometry(for: model) : nil
    }

    /// The latent grid `model`'s engine works on, without building the engine or reading any file: what a farm's
    /// coordinator plans with (the weights live on the workers). An MMDiT's grid comes from `model.config`
    /// (default `small`); a storyboard whose weights are of another configuration must name it.
    public static func geometry(for model: ModelSpec, source: String = "storyboard") throws(SpecError) -> EngineGeometry {
        guard model.engine == "mmdit" else { return try engine(for: model, source: source).geometry }
        let name = model.config ?? "small"
        guard let config = MMDiTConfig.named(name) else {
            let rule = "unknown mmdit configuration \"\(name)\" (have: \(MMDiTConfig.names.joined(separator: ", ")))"
            throw SpecError(source: source, issues: [SpecIssue(field: "model.config", rule: rule)])
        }
        return MMDiTEngine.geometry(of: config)
    }

    /// The engine for `model`.
    /// - Throws: ``SpecError`` naming `model.engine` when no such engine exists here, or `model.config` /
    ///   `model.weights` when the MMDiT's configuration is unknown or its weights file is unusable.
    public static func engine(for model: ModelSpec, source: String = "storyboard") throws(SpecError) -> any Engine {
        switch model.engine {
        case "testcard":
            return TestCardEngine()
        case "mmdit":
            return try MMDiTEngine(model: model, source: source)
        default:
            throw SpecError(
                source: source,
                issues: [
                    SpecIssue(
                        field: "model.engine",
                        rule: "unknown engine \"\(model.engine)\" (this build has: \(names.joined(separator: ", ")))")
                ])
        }
    }
}
