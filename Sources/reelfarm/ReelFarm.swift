import ArgumentParser

/// `reelfarm`: wiring only; the logic lives in the Farm* libraries.
@main
struct ReelFarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reelfarm",
        abstract: "Render farm for long-form AI video with sound.",
        version: "reelfarm \(reelfarmVersion)",
        subcommands: [
            Sample.self, Plan.self, Render.self, Verify.self, Inspect.self, Deliver.self, Demo.self,
            Coordinator.self, Worker.self, Submit.self, Status.self, Watch.self, Fetch.self, Cancel.self, Retry.self, Delete.self, Priority.self,
            Workers.self, Drain.self, Disable.self, Enable.self,
            Bench.self, Model.self, Keys.self, Engines.self,
        ]
    )
}
