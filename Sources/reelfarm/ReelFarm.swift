import ArgumentParser

@main
struct ReelFarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reelfarm", abstract: "Render farm for long-form AI video with sound.")
}
