import FarmCore
import FarmTestCard

/// Finds the engine a storyboard's `model.engine` names.
public enum EngineRegistry {
    /// Engine names this build can run.
    public static let names = ["testcard"]

    /// The engine for `model`.
    /// - Throws: ``SpecError`` naming `model.engine` when no such engine exists here.
    public static func engine(for model: ModelSpec, source: String = "storyboard") throws(SpecError) -> any Engine {
        switch model.engine {
        case "testcard":
            return TestCardEngine()
        default:
            throw SpecError(source: source, issues: [SpecIssue(
                field: "model.engine", rule: "unknown engine \"\(model.engine)\" (this build has: \(names.joined(separator: ", ")))")])
        }
    }
}
