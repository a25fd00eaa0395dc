import FarmCore
import Foundation

/// `reelfarm bench schedule`: the bundled sample stretched to a long episode, planned with each schedule and run on a
/// simulated heterogeneous farm; makespan ÷ lower bound with speed-aware placement, and with the speed-blind rule.
public struct ScheduleBenchmark: Sendable {
    public var gpus = 8
    public var gpuSpeed = 10.0
    public var cpus = 32
    public var cpuSpeed = 1.0
    public var shots = 60
    public var seconds = 600

    public init() {}

    /// One schedule's figures.
    public struct Row: Sendable {
        public var schedule: Schedule
        public var tasks: Int
        public var aware: ScheduleSimulator.Outcome
        public var blind: ScheduleSimulator.Outcome
    }

    /// The results and how to print them.
    public struct Result: Sendable, CustomStringConvertible {
        public var benchmark: ScheduleBenchmark
        public var rows: [Row]

        public var description: String {
            let b = benchmark
            func f(_ x: Double) -> String { String(format: "%.1f s", x) }
            func pad(_ s: String, _ n: Int) -> String {
                s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
            }
            var lines = [
                "simulated farm: \(b.gpus) GPU workers at \(b.gpuSpeed) frames/s, "
                    + "\(b.cpus) CPU workers at \(b.cpuSpeed) frames/s",
                "job: sample cyber-lobster stretched to \(b.shots) shots, \(b.seconds) s; "
                    + "cost = generated frames × pixels",
                pad("schedule", 10) + pad("tasks", 7) + pad("makespan", 11) + pad("lower bound", 13) + pad("ratio", 8)
                    + "speed-blind (makespan, ratio)",
            ]
            for r in rows {
                lines.append(pad(r.schedule.rawValue, 10) + pad("\(r.tasks)", 7) + pad(f(r.aware.makespan), 11)
                             + pad(f(r.aware.lowerBound), 13) + pad(String(format: "%.3f", r.aware.ratio), 8)
                             + "\(f(r.blind.makespan)), \(String(format: "%.3f", r.blind.ratio))")
            }
            lines.append("ratio = makespan ÷ max(critical path ÷ fastest speed, total work ÷ total speed); goal ≤ 1.10")
            return lines.joined(separator: "\n")
        }
    }

    /// The workers' speeds, GPUs first.
    public var speeds: [Double] {
        Array(repeating: gpuSpeed, count: gpus) + Array(repeating: cpuSpeed, count: cpus)
    }

    /// Plans and simulates both schedules.
    /// - Throws: ``SpecError`` if the stretched sample cannot be planned (it always can).
    public func run() throws -> Result {
        var rows: [Row] = []
        for schedule in Schedule.allCases {
            let plan = try Planner.plan(try Self.episode(schedule: schedule, shots: shots, seconds: seconds),
                                        geometry: EngineGeometry(latentChannels: 8, maxWindow: 1025))
            let sim = ScheduleSimulator(plan: plan, speeds: speeds)
            rows.append(Row(schedule: schedule, tasks: plan.tasks.count, aware: sim.run(.speedAware),
                            blind: sim.run(.speedBlind)))
        }
        return Result(benchmark: self, rows: rows)
    }

    /// The bundled sample's shots repeated (ids numbered by round) to `shots`, every duration and cue scaled so the
    /// film lasts `seconds`; its format, model settings and transitions kept, with `schedule`.
    /// - Throws: ``SpecError`` if the sample no longer parses.
    public static func episode(schedule: Schedule, shots: Int, seconds: Int) throws -> JobSpec {
        var spec = try JobSpec.parse(SampleStoryboards.text("cyber-lobster") ?? "", source: "sample:cyber-lobster")
        let sample = spec.shots
        var repeated: [ShotSpec] = []
        for i in 0..<max(1, shots) {
            var shot = sample[i % sample.count]
            shot.id += "-\(i / sample.count + 1)"
            if i == 0 { shot.transition = .cut }
            repeated.append(shot)
        }
        let total = repeated.reduce(Rational(0)) { sum, shot in
            if case .seconds(let d) = shot.length { return sum + d }
            return sum
        }
        let scale = Rational(Int64(seconds) * total.denominator, max(1, total.numerator))
        spec.shots = repeated.map { shot in
            var shot = shot
            if case .seconds(let d) = shot.length { shot.length = .seconds(d * scale) }
            shot.cues = shot.cues.map { SoundCue(at: $0.at * scale, sound: $0.sound) }
            return shot
        }
        spec.model.schedule = schedule
        return spec
    }
}
