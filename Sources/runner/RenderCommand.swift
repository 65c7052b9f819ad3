import ArgumentParser
import Pipeline

extension Runner {
    /// `runner render P.lua PATH --group G`: a file as a group (or a host) gets it.
    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a file of a pipeline's source as a group or a host gets it, its template rendered.")

        @OptionGroup var options: ScriptOptions

        @Argument(help: "The file, relative to the pipeline's source (or absolute, inside it).")
        var path: String

        @Option(help: "The group: the file as its first host gets it.")
        var group: String?

        @Option(help: "The target URI: the file as that host gets it.")
        var host: String?

        @Option(help: "The pipeline (default: the first that sends to the group or host).")
        var pipeline: String?

        func validate() throws {
            guard (group == nil) != (host == nil) else { throw ValidationError("name one of --group and --host") }
        }

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let script = try options.load(&logger)
                let uri = try host.map { try TargetURI(parsing: $0) }
                let matches = { (d: PipelineConfig.Destination) in uri.map { d.uri == $0 } ?? (d.group == group) }
                guard
                    let p = try script.pipelines().first(where: { p in
                        (pipeline == nil || p.name == pipeline) && p.destinations.contains(where: matches)
                    }),
                    let destination = p.destinations.first(where: matches)
                else {
                    throw ValidationError("no pipeline sends to \(group.map { "group '\($0)'" } ?? host!)")
                }
                var relative = path
                if relative.hasPrefix(p.source + "/") { relative.removeFirst(p.source.count + 1) }
                let (bytes, isTemplate) = try RenderPreview.render(
                    relative, for: destination, in: p, hooks: script.hooks)
                if !isTemplate {
                    Output.err("runner: \(relative) is not a template of pipeline '\(p.name)': it is sent as it is\n")
                }
                Output.out(String(decoding: bytes, as: UTF8.self))
            }
        }
    }
}
