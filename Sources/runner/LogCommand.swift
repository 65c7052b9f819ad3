import ArgumentParser
import FoundationEssentials
import Pipeline
import RunnerSystem

extension Runner {
    /// `runner log P.lua`: the pipeline's revisions, newest first, and what each group made of them.
    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show a pipeline's revisions, newest first: who cut them, what changed, and each group's verdict.",
            discussion: """
                Reads the pipeline's state directory (settings { state_dir }), whether its sender
                runs or not; a running sender writes a revision within a second of cutting it.
                """)

        @Argument(help: "The pipeline script.")
        var script: String

        @Option(help: "Only this group's verdicts.")
        var group: String?

        @Option(help: "Only this pipeline (when the script declares more than one).")
        var pipeline: String?

        @Option(name: [.customShort("n"), .customLong("count")], help: "How many revisions.")
        var count = 20

        @Flag(help: "Print the history as JSON.")
        var json = false

        func run() throws {
            try reportingErrors {
                let loaded = try LoadedScript.quiet(script)
                let pipelines = try loaded.pipelines(named: pipeline)
                var histories: [RevisionHistory] = []
                for p in pipelines {
                    if let group, !p.destinations.contains(where: { $0.group == group }) {
                        throw ConfigError(
                            "pipeline '\(p.name)' sends to no group '\(group)'",
                            at: SourceLocation(file: script, line: 0),
                            hint:
                                "its groups: \(Set(p.destinations.compactMap(\.group)).sorted().joined(separator: ", "))"
                        )
                    }
                    var history = PipelineRunner.history(
                        p, stateDirectory: loaded.configuration.settings.stateDirectory, limit: max(1, count))
                    if let group {
                        for i in history.revisions.indices {
                            history.revisions[i].groups.removeAll { $0.group != group }
                        }
                    }
                    histories.append(history)
                }
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    let data = try encoder.encode(pipelines.count == 1 ? [histories[0]] : histories)
                    Output.out(String(decoding: data, as: UTF8.self) + "\n")
                } else {
                    Output.out(histories.map { text($0, named: pipelines.count > 1) }.joined(separator: "\n"))
                }
            }
        }

        private func text(_ history: RevisionHistory, named: Bool) -> String {
            var out = named ? "pipeline \(history.pipeline)\n" : ""
            if history.revisions.isEmpty { out += "no revision yet\n" }
            for r in history.revisions {
                let when = WallClock.utc(seconds: Int(r.time))
                out += "revision \(r.number)  \(when)  \(r.author)\(r.note.map { "  (\($0))" } ?? "")\n"
                let listed = r.changed.prefix(5).map { $0.isEmpty ? "." : $0 }.joined(separator: ", ")
                let more = r.changedCount > 5 ? ", and \(r.changedCount - 5) more" : ""
                out += "  changed \(r.changedCount) path(s): \(listed)\(more)\n"
                for v in r.groups {
                    let name = v.group.isEmpty ? "hosts" : v.group
                    out +=
                        "  \(name): \(v.state.rawValue)\(v.why.map { ": \($0)" } ?? "")\(v.by.map { " (\($0))" } ?? ""), \(v.hostsAt) of \(v.hosts) host(s) at it\n"
                }
            }
            return out
        }
    }
}
