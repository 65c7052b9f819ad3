import ArgumentParser
import FoundationEssentials
import Pipeline

extension Runner {
    /// `runner diff P.lua --group G [A..B]`: what a revision changes at a group's hosts.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show what a revision changes at a group's hosts: a unified diff, rendered with the group's values.",
            discussion: """
                Default: from the group's approved revision to what waits for it (at its canaries, or for
                approval). Files matching the pipeline's secret globs show only how many bytes changed.
                Reads the state directory, whether the sender runs or not.
                """)

        @Argument(help: "The pipeline script.")
        var script: String

        @Argument(help: "A..B: from revision A to revision B (or B alone: from the group's approved one).")
        var range: String?

        @Option(help: "The group whose hosts' view is shown.")
        var group: String

        @Option(help: "The pipeline (when the script declares more than one).")
        var pipeline: String?

        @Flag(help: "Print { from, to, diff } as JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                var from: Int?, to: Int?
                if let range {
                    let parts = range.split(separator: ".", omittingEmptySubsequences: false)
                    if parts.count == 3, parts[1].isEmpty, let a = Int(parts[0]), let b = Int(parts[2]) {
                        (from, to) = (a, b)
                    } else if let b = Int(range) {
                        to = b
                    } else {
                        throw ValidationError("a range is A..B or B, got '\(range)'")
                    }
                }
                let loaded = try LoadedScript.quiet(script)
                let pipelines = try loaded.pipelines(named: pipeline).filter {
                    $0.destinations.contains { $0.group == group }
                }
                guard let p = pipelines.first else {
                    throw ConfigError(
                        "no pipeline sends to group '\(group)'", at: SourceLocation(file: script, line: 0))
                }
                let shown = try PipelineRunner.diff(
                    p, hooks: loaded.hooks, stateDirectory: loaded.configuration.settings.stateDirectory,
                    group: group, from: from, to: to)
                if json {
                    let object = ["from": "\(shown.from)", "to": "\(shown.to)", "diff": shown.text]
                    Output.out(String(decoding: try JSONEncoder().encode(object), as: UTF8.self) + "\n")
                } else {
                    Output.out("group \(group): revision \(shown.from)..\(shown.to)\n" + shown.text)
                }
            }
        }
    }
}
