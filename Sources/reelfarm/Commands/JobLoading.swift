import ArgumentParser
import FarmCore
import FarmRender
import Foundation

/// Exit status for a storyboard that breaks a rule (nothing is written).
let specErrorExitCode: Int32 = 2

/// Loads and plans the storyboard `argument`; a bad storyboard prints every broken rule and exits 2.
/// - Parameter images: decode the storyboard's keyframe and reference images (needed to render).
func loadJob(_ argument: String, images: Bool = false) throws -> (JobContext, any Engine) {
    do {
        let spec = try JobSource.load(argument)
        let engine = try EngineRegistry.engine(for: spec.model, source: argument)
        let decoded = images ? try StoryboardImages.load(spec, source: argument) : [:]
        return (try JobContext(spec: spec, geometry: engine.geometry, source: argument, images: decoded), engine)
    } catch {
        printError(error.description)
        throw ExitCode(specErrorExitCode)
    }
}

/// Checks a storyboard before it is submitted: parsed, its images decoded, and planned when its engine is built in
/// (an engine run in engine processes is planned by the coordinator with the grid its workers declared).
func checkSubmission(_ argument: String) throws -> JobSpec {
    do {
        let spec = try JobSource.load(argument)
        let images = try StoryboardImages.load(spec, source: argument)
        if let geometry = try EngineRegistry.plannedGeometry(for: spec.model) {
            _ = try JobContext(spec: spec, geometry: geometry, source: argument, images: images)
        }
        return spec
    } catch {
        printError(error.description)
        throw ExitCode(specErrorExitCode)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The storyboard argument every job command takes.
struct JobArgument: ParsableArguments {
    @Argument(help: "Storyboard file (YAML or JSON), or sample:NAME for a bundled sample.")
    var job: String
}
