import ArgumentParser
import FarmCore

extension ReelFarm {
    struct Sample: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a bundled sample storyboard.")

        @Argument(help: "Sample name (\(SampleStoryboards.names.joined(separator: ", "))).")
        var name: String = "cyber-lobster"

        func validate() throws {
            guard SampleStoryboards.text(name) != nil else {
                throw ValidationError("no bundled sample \"\(name)\" (have: \(SampleStoryboards.names.joined(separator: ", ")))")
            }
        }

        func run() throws {
            print(SampleStoryboards.text(name)!, terminator: "")
        }
    }
}
