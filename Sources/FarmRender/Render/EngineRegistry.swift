import FarmCore
import FarmInference
import FarmTestCard

/// Finds the engine a storyboard's `model.engine` names.
public enum EngineRegistry {
    /// Engine names this build can run.
    public static let names = ["testcard", "mmdit"]

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
