import ArgumentParser
import Pipeline

extension Runner {
    /// `runner keys [pipeline|receiver]`: every key a script may set.
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every key a pipeline or receiver script may set: type, default, example (Markdown).")

        @Argument(help: "pipeline or receiver")
        var scripts: String = "pipeline"

        func run() throws {
            guard let reference = ConfigSchema.Reference(rawValue: scripts) else {
                throw ValidationError("'\(scripts)' is neither pipeline nor receiver")
            }
            Output.out(ConfigSchema.markdown(reference))
        }
    }
}
