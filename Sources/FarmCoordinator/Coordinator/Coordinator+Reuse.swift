import FarmCore
import FarmStore
import FarmWire
import Foundation

/// What a submission takes from finished work: the engine identity its keys name and the finished tasks it reuses;
/// and how a stored job (a draft too) is planned again.
extension Coordinator {
    /// The identity the job's engine has: as workers declared it, or this build's for a built-in engine.
    func engineVersion(for model: ModelSpec) -> String? {
        if let v = engineVersions[model.engine] { return v }
        return (try? config.geometry(model)) != nil ? config.builtInEngineVersion : nil
    }

    /// The finished tasks a new job takes instead of running its own, by task id: those with the same reuse key
    /// whose outputs are all still stored, and whose dependencies are all reused too (a task that runs never feeds
    /// one that does not).
    func reusableTasks(of job: JobContext, keys: [String: String]) throws -> [String: ReusableTask] {
        let found = try store.reusable(Array(Set(keys.values)))
        var out: [String: ReusableTask] = [:]
        for pass in job.plan.anchors {
            guard let key = keys[pass.id], let r = found[key], pass.dependsOn.allSatisfy({ out[$0] != nil }) else { continue }
            out[pass.id] = r
        }
        for seg in job.plan.segments {
            guard let key = keys[seg.id], let r = found[key], seg.dependsOn.allSatisfy({ out[$0] != nil }) else { continue }
            // A segment that leaves a tail for the next one must still have it.
            if seg.tailLatents > 0, r.outputs["tail"] == nil { continue }
            out[seg.id] = r
        }
        return out
    }
}

extension JobRecord {
    /// The storyboard as the job was planned: parsed (without looking at files: the job's images are its stored
    /// copies), and drafted for a draft.
    func plannedSpec() throws -> JobSpec {
        var spec = try JobSpec.parse(storyboard, source: source, baseDirectory: baseDirectory.map { URL(fileURLWithPath: $0) },
                                     checkingFiles: false)
        if let text = draft {
            let settings: DraftSettings
            do { settings = try WireJSON.decoder.decode(DraftSettings.self, from: Data(text.utf8)) } catch {
                throw SpecError(source: source, issues: [SpecIssue(field: "model.draft", rule: "the stored draft settings cannot be read: \(error)")])
            }
            spec = spec.drafted(settings)
        }
        return spec
    }
}
