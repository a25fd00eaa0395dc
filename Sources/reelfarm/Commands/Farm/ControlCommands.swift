import ArgumentParser
import FarmWire

extension ReelFarm {
    struct Priority: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an unfinished job's priority; its queued tasks move at once (higher runs first).",
            discussion: "A negative priority goes after --: reelfarm priority JOB -- -5")
        @Argument(help: "The job id (or a prefix only it starts with).") var job: String
        @Argument(help: "The new priority (\(JobPriority.range.lowerBound)...\(JobPriority.range.upperBound)).")
        var priority: Int
        @OptionGroup var farm: CoordinatorOption
        @Flag(help: "Print the job's summary as JSON.") var json = false

        func validate() throws {
            guard JobPriority.range.contains(priority) else {
                throw ValidationError("priority must be in \(JobPriority.range.lowerBound)...\(JobPriority.range.upperBound), "
                                      + "not \(priority)")
            }
        }

        func run() throws {
            let client = try farm.client()
            let s = try clientCall { try client.setPriority(job: job, priority: priority) }
            if json { print(StatusFormatter.json(s)); return }
            print("\(s.id): priority \(s.priority) (\(s.state))")
        }
    }

    /// `drain`, `disable` and `enable`: one worker action on each id given.
    struct WorkerAction {
        static func run(_ action: WorkerControl.Action, workers: [String], farm: CoordinatorOption, json: Bool) throws {
            let client = try farm.client()
            for worker in workers {
                let s = try clientCall { try client.control(worker: worker, action) }
                print(json ? StatusFormatter.json(s) : "\(s.id): \(s.state), \(s.busy) tasks running")
            }
        }
    }

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask connected workers to leave: no new task; each finishes what it runs, says bye and exits.")
        @Argument(help: "Worker ids (as `reelfarm workers` lists them).") var workers: [String]
        @OptionGroup var farm: CoordinatorOption
        @Flag(help: "Print JSON.") var json = false

        func run() throws { try WorkerAction.run(.drain, workers: workers, farm: farm, json: json) }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give workers no new task until enabled; they stay connected and finish what they run.",
            discussion: "A disabled worker stays disabled across its reconnects and the coordinator's restarts.")
        @Argument(help: "Worker ids (as `reelfarm workers` lists them).") var workers: [String]
        @OptionGroup var farm: CoordinatorOption
        @Flag(help: "Print JSON.") var json = false

        func run() throws { try WorkerAction.run(.disable, workers: workers, farm: farm, json: json) }
    }

    struct Enable: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give disabled workers tasks again.")
        @Argument(help: "Worker ids (as `reelfarm workers` lists them).") var workers: [String]
        @OptionGroup var farm: CoordinatorOption
        @Flag(help: "Print JSON.") var json = false

        func run() throws { try WorkerAction.run(.enable, workers: workers, farm: farm, json: json) }
    }
}
