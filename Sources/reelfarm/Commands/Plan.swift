import ArgumentParser
import FarmCore
import Foundation

extension ReelFarm {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cut a storyboard into segments and print the plan.",
            discussion: "Ranges are global and half-open: [a, b). Work and critical path count generated frames.")

        @OptionGroup var job: JobArgument
        @Flag(help: "Print the plan as JSON.") var json = false
        @OptionGroup var log: LogOptions

        func run() throws {
            log.apply()
            // The images too, as render and submit check them: a plan that passes here renders.
            let (context, _) = try loadJob(job.job, images: true)
            if json {
                FileHandle.standardOutput.write(context.plan.jsonData())
                print()
            } else {
                print(context.plan.table())
            }
        }
    }
}
