import ArgumentParser
import FarmCoordinator

extension ReelFarm.Bench {
    struct Scheduling: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "schedule",
            abstract: "Placement on a simulated heterogeneous farm: makespan ÷ lower bound for chain and anchored.",
            discussion: "A virtual clock, no workers: the sample stretched to a long episode, planned with each "
                + "schedule, placed by the coordinator's rule (and by the speed-blind one, for comparison).")

        @Option(help: "GPU workers (one slot each).") var gpu: Int = 8
        @Option(help: "GPU workers' speed, frames per second at the film's size.") var gpuSpeed: Double = 10
        @Option(help: "CPU workers (one slot each).") var cpu: Int = 32
        @Option(help: "CPU workers' speed, frames per second at the film's size.") var cpuSpeed: Double = 1
        @Option(help: "Shots the sample is stretched to.") var shots: Int = 60
        @Option(help: "Seconds the sample is stretched to.") var seconds: Int = 600

        func validate() throws {
            guard gpu >= 0, cpu >= 0, gpu + cpu >= 1, (0...100_000).contains(gpu + cpu) else {
                throw ValidationError("--gpu and --cpu must be ≥ 0, together 1...100000")
            }
            guard gpuSpeed > 0, cpuSpeed > 0, gpuSpeed.isFinite, cpuSpeed.isFinite else {
                throw ValidationError("--gpu-speed and --cpu-speed must be > 0")
            }
            guard (1...10_000).contains(shots), (1...14_400).contains(seconds), seconds * 24 >= shots else {
                throw ValidationError("--shots 1...10000 and --seconds 1...14400, at least one frame a shot")
            }
        }

        func run() throws {
            var bench = ScheduleBenchmark()
            bench.gpus = gpu
            bench.gpuSpeed = gpuSpeed
            bench.cpus = cpu
            bench.cpuSpeed = cpuSpeed
            bench.shots = shots
            bench.seconds = seconds
            print(try bench.run().description)
        }
    }
}
