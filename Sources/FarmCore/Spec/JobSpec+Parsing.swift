import Foundation
import Yams

extension JobSpec {
    /// Parses and validates a storyboard written in YAML or JSON.
    /// - Parameters:
    ///   - text: the storyboard.
    ///   - source: a name for messages (usually the file path).
    ///   - baseDirectory: where relative reference-image paths are looked up; `nil` skips the file checks.
    /// - Throws: ``SpecError`` listing every broken rule, field by field.
    ///   - checkingFiles: whether named files must exist here (a farm's coordinator keeps the images itself and leaves
    ///     the weights to the workers, so it parses without looking at its own file system).
    public static func parse(_ text: String, source: String, baseDirectory: URL? = nil,
                             checkingFiles: Bool = true) throws(SpecError) -> JobSpec {
        let root: Node
        let depth = SpecNesting.depthBound(text)
        guard depth <= SpecNesting.maxDepth else {
            throw SpecError(source: source, issues: [SpecIssue(
                field: "(document)",
                rule: "nests lists and mappings too deeply: its brackets and indentation allow \(depth) levels, "
                    + "at most \(SpecNesting.maxDepth) are accepted")])
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw SpecError(source: source, issues: [SpecIssue(field: "(document)", rule: "is empty")])
            }
            root = node
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(source: source, issues: [SpecIssue(field: "(document)", rule: "is not valid YAML/JSON: \(error)")])
        }
        var r = SpecReader()
        var spec = read(root, &r)
        if let base = baseDirectory { spec?.resolvePaths(against: base) }
        if let spec { validate(spec, baseDirectory: checkingFiles ? baseDirectory : nil, &r) }
        guard r.issues.isEmpty, let spec else { throw SpecError(source: source, issues: r.issues) }
        return spec
    }

    /// Reads and validates the storyboard file at `url`.
    public static func load(contentsOf url: URL) throws(SpecError) -> JobSpec {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SpecError(source: url.path, issues: [SpecIssue(field: "(file)", rule: "cannot be read: \(error.localizedDescription)")])
        }
        return try parse(data, source: url.path, baseDirectory: url.deletingLastPathComponent())
    }

    /// Parses a storyboard's bytes, refusing text that is not UTF-8 with the first bad byte and where it stands.
    /// - Throws: ``SpecError``; for bad UTF-8 one `(file)` issue naming the byte, its line and offset.
    public static func parse(_ data: Data, source: String, baseDirectory: URL? = nil) throws(SpecError) -> JobSpec {
        if let bad = UTF8Check.firstInvalidByte(in: data) {
            let byte = String(format: "0x%02X", bad.byte)
            throw SpecError(source: source, issues: [SpecIssue(
                field: "(file)", rule: "not UTF-8 text: invalid byte \(byte) at line \(bad.line), byte offset \(bad.offset)")])
        }
        return try parse(String(decoding: data, as: UTF8.self), source: source, baseDirectory: baseDirectory)
    }

    /// Turns relative file paths (model weights, keyframe and reference images) into absolute ones against `base`.
    public mutating func resolvePaths(against base: URL) {
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).standardizedFileURL.path }
        model.weights = model.weights.map(resolve)
        references = references.map(resolve)
        for i in shots.indices {
            for k in shots[i].keyframes.indices { shots[i].keyframes[k].image = resolve(shots[i].keyframes[k].image) }
        }
    }

    /// Every image file the storyboard names (absolute once resolved): keyframes, then grid references.
    public var imagePaths: [String] { shots.flatMap { $0.keyframes.map(\.image) } + references }

    private static func read(_ root: Node, _ r: inout SpecReader) -> JobSpec? {
        guard let top = r.mapping(root, "", allowed: ["title", "output", "model", "shots", "references", "requires"]) else { return nil }
        let title = r.string(top["title"], "title", required: true, max: 256) ?? ""
        let output = top["output"].flatMap { readOutput($0, &r) }
        if top["output"] == nil { r.fail("output", nil, "is required") }
        let model = top["model"].flatMap { readModel($0, &r) }
        if top["model"] == nil { r.fail("model", nil, "is required") }
        var shots: [ShotSpec] = []
        // A shot that could not be read leaves no spec: the rules across shots (ids, continuity, the timeline) would
        // run on the shots that are left, under shifted indices, and name the wrong shot and line.
        var everyShotRead = true
        if let node = top["shots"], let list = r.sequence(node, "shots") {
            if list.isEmpty { r.fail("shots", node, "must hold at least one shot") }
            for (i, shot) in list.enumerated() {
                if let s = readShot(shot, "shots[\(i)]", &r) { shots.append(s) } else { everyShotRead = false }
            }
        } else if top["shots"] == nil {
            r.fail("shots", nil, "is required")
        }
        var references: [String] = []
        if let node = top["references"], let list = r.sequence(node, "references") {
            for (i, item) in list.enumerated() {
                if let s = r.string(item, "references[\(i)]", required: true, max: 4096) { references.append(s) }
            }
        }
        let requires = top["requires"].map { readRequirements($0, &r) } ?? WorkerRequirements()
        guard let output, let model, everyShotRead else { return nil }
        return JobSpec(title: title, output: output, model: model, shots: shots, references: references,
                       requires: requires)
    }

    private static func readRequirements(_ node: Node, _ r: inout SpecReader) -> WorkerRequirements {
        var out = WorkerRequirements()
        guard let m = r.mapping(node, "requires", allowed: ["device", "tags", "memory_gib"]) else { return out }
        if let d = r.string(m["device"], "requires.device", required: false, max: 16) {
            if ["cpu", "gpu"].contains(d) { out.device = d } else {
                r.fail("requires.device", m["device"], "must be cpu or gpu (got \"\(d)\")")
            }
        }
        if let node = m["tags"], let list = r.sequence(node, "requires.tags") {
            for (i, item) in list.enumerated() {
                guard let tag = r.string(item, "requires.tags[\(i)]", required: true, max: 64) else { continue }
                if tag.isEmpty || !tag.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) {
                    r.fail("requires.tags[\(i)]", item, "must be letters, digits, '-', '_' or '.' (got \"\(tag)\")")
                } else {
                    out.tags.append(tag)
                }
            }
        }
        if m["memory_gib"] != nil, let gib = r.int(m["memory_gib"], "requires.memory_gib") {
            if (0 ... 65_536).contains(gib) { out.memoryBytes = gib << 30 } else {
                r.fail("requires.memory_gib", m["memory_gib"], "must be in 0...65536 (got \(gib))")
            }
        }
        return out
    }

    private static func readOutput(_ node: Node, _ r: inout SpecReader) -> OutputFormat? {
        guard let m = r.mapping(node, "output", allowed: ["width", "height", "fps", "sample_rate", "channels"])
        else { return nil }
        let width = r.int(m["width"], "output.width")
        let height = r.int(m["height"], "output.height")
        let fps = r.rational(m["fps"], "output.fps")
        let rate = r.int(m["sample_rate"], "output.sample_rate")
        let channels = m["channels"] == nil ? 2 : r.int(m["channels"], "output.channels")
        if let w = width, let h = height {
            for (name, v, lo, hi) in [("width", w, SpecLimits.minWidth, SpecLimits.maxWidth),
                                      ("height", h, SpecLimits.minHeight, SpecLimits.maxHeight)] {
                if v % SpecLimits.sizeMultiple != 0 {
                    r.fail("output.\(name)", m[name], "must be a multiple of \(SpecLimits.sizeMultiple) (got \(v))")
                }
                if v < lo || v > hi { r.fail("output.\(name)", m[name], "must be in \(lo)...\(hi) (got \(v))") }
            }
        }
        if let f = fps {
            if !f.isPositive {
                r.fail("output.fps", m["fps"], "must be > 0 (got \(f))")
            } else if f > SpecLimits.maxFPS || f.numerator > SpecLimits.maxFPSTerm || f.denominator > SpecLimits.maxFPSTerm {
                r.fail("output.fps", m["fps"], "must be at most \(SpecLimits.maxFPS) with terms ≤ \(SpecLimits.maxFPSTerm) (got \(f))")
            }
        }
        if let s = rate {
            if s <= 0 {
                r.fail("output.sample_rate", m["sample_rate"], "must be > 0 (got \(s))")
            } else if !SpecLimits.sampleRates.contains(s) {
                r.fail("output.sample_rate", m["sample_rate"], "must be in \(SpecLimits.sampleRates) (got \(s))")
            }
        }
        if let c = channels, !SpecLimits.channels.contains(c) {
            r.fail("output.channels", m["channels"], "must be in \(SpecLimits.channels) (got \(c))")
        }
        guard let width, let height, let fps, fps.isPositive, let rate, rate > 0, let channels else { return nil }
        return OutputFormat(width: width, height: height, fps: fps, sampleRate: rate, channels: channels)
    }

    private static func readModel(_ node: Node, _ r: inout SpecReader) -> ModelSpec? {
        let keys: Set<String> = ["engine", "window", "overlap", "steps", "seed", "schedule", "config", "weights", "draft"]
        guard let m = r.mapping(node, "model", allowed: keys) else { return nil }
        let engine = r.string(m["engine"], "model.engine", required: true, max: 64)
        let window = r.int(m["window"], "model.window")
        let overlap = r.int(m["overlap"], "model.overlap")
        let steps = m["steps"] == nil ? 8 : r.int(m["steps"], "model.steps")
        let seedValue = m["seed"] == nil ? 0 : r.int(m["seed"], "model.seed")
        var schedule = Schedule.chain
        if let s = r.string(m["schedule"], "model.schedule", required: false, max: 32) {
            if let v = Schedule(rawValue: s) { schedule = v } else {
                r.fail("model.schedule", m["schedule"], "must be chain or anchored (got \"\(s)\")")
            }
        }
        if let w = window, !SpecLimits.window.contains(w) {
            r.fail("model.window", m["window"], "must be in \(SpecLimits.window) (got \(w))")
        }
        if let o = overlap, let w = window {
            if o < 1 { r.fail("model.overlap", m["overlap"], "must be ≥ 1 (got \(o))") }
            if o >= w { r.fail("model.overlap", m["overlap"], "must be < model.window (\(o) ≥ \(w))") }
        }
        if let s = steps, !SpecLimits.steps.contains(s) {
            r.fail("model.steps", m["steps"], "must be in \(SpecLimits.steps) (got \(s))")
        }
        if let s = seedValue, s < 0 { r.fail("model.seed", m["seed"], "must be ≥ 0 (got \(s))") }
        let config = r.string(m["config"], "model.config", required: false, max: 64)
        let weights = r.string(m["weights"], "model.weights", required: false, max: 4096)
        var draft: DraftSettings?
        if let node = m["draft"], let d = r.mapping(node, "model.draft", allowed: ["steps", "scale"]) {
            let draftSteps = d["steps"] == nil ? max(1, (steps ?? 8) / 4) : r.int(d["steps"], "model.draft.steps")
            var scale: Rational? = Rational(1, 2)
            if let text = r.string(d["scale"], "model.draft.scale", required: false, max: 32) {
                scale = Rational(parsing: text)
                if scale == nil { r.fail("model.draft.scale", d["scale"], "must be a fraction such as 1/2 (got \"\(text)\")") }
            }
            if let draftSteps, let scale {
                let settings = DraftSettings(steps: draftSteps, scale: scale)
                if let problem = settings.problem(forSteps: steps ?? SpecLimits.steps.upperBound) {
                    r.fail(problem.hasPrefix("scale") ? "model.draft.scale" : "model.draft.steps", node, problem)
                } else {
                    draft = settings
                }
            }
        }
        guard let engine, let window, let overlap, let steps, let seedValue, seedValue >= 0 else { return nil }
        var model = ModelSpec(engine: engine, window: window, overlap: overlap, steps: steps, seed: UInt64(seedValue),
                              schedule: schedule, config: config, weights: weights)
        model.draft = draft
        return model
    }
}
