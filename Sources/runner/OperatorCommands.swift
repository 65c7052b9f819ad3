import ArgumentParser
import FoundationEssentials
import Pipeline

/// What `approve`, `reject` and `rollback` share: the script, the pipeline, the group.
struct OperatorOptions: ParsableArguments {
    @Argument(help: "The pipeline script of the running sender.")
    var script: String

    @Option(help: "The group.")
    var group: String

    @Option(help: "The pipeline (when the script declares more than one).")
    var pipeline: String?

    @Flag(help: "Print the sender's answer as JSON.")
    var json = false

    /// Sends `request` to the running sender of the pipeline; prints its answer. A refusal
    /// exits 1; no running sender exits 1 too, saying so.
    func send(_ request: ControlRequest) throws {
        try reportingErrors {
            let loaded = try LoadedScript.quiet(script)
            let pipelines = try loaded.pipelines(named: pipeline)
            guard pipelines.count == 1 else {
                throw ConfigError(
                    "declares \(pipelines.count) pipelines", at: SourceLocation(file: script, line: 0),
                    hint: "name one with --pipeline (\(pipelines.map(\.name).joined(separator: ", ")))")
            }
            let reply: ControlReply
            if let coordination = loaded.configuration.settings.coordination {
                // To whichever sender leads, from any machine.
                reply = try EtcdOperators.send(
                    request, pipeline: pipelines[0].name, endpoints: coordination.endpoints, by: EtcdOperators.operator)
            } else {
                reply = try ControlClient.send(
                    request,
                    to: PipelineRunner.controlSocketPath(
                        pipelines[0], stateDirectory: loaded.configuration.settings.stateDirectory))
            }
            if json {
                Output.out(String(decoding: try JSONEncoder().encode(reply), as: UTF8.self) + "\n")
            } else {
                if let diff = reply.diff, !diff.isEmpty { Output.out(diff) }
                (reply.ok ? Output.out : Output.err)(reply.message + "\n")
            }
            guard reply.ok else { throw Exit.runtimeFailure }
        }
    }
}

extension Runner {
    /// `runner approve P.lua --group G [N]`.
    struct Approve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let a group have the revision that waits for approval (or an older one of those waiting).")
        @OptionGroup var options: OperatorOptions
        @Argument(help: "The revision (default: the newest one waiting).")
        var revision: Int?

        func run() throws {
            try options.send(ControlRequest(command: .approve, group: options.group, revision: revision))
        }
    }

    /// `runner reject P.lua --group G`.
    struct Reject: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop what waits for approval in a group; it stays where it is until the next change.")
        @OptionGroup var options: OperatorOptions

        func run() throws { try options.send(ControlRequest(command: .reject, group: options.group)) }
    }

    /// `runner rollback P.lua --group G --to N | --last [--dry-run]`.
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a group an earlier revision's content, as a new revision that goes through its canary.")
        @OptionGroup var options: OperatorOptions
        @Option(help: "The revision whose content the group gets.")
        var to: Int?
        @Flag(help: "The revision the group had before its current one.")
        var last = false
        @Flag(help: "Show what it would change at the group's hosts, and do nothing.")
        var dryRun = false

        func validate() throws {
            guard (to == nil) != !last else { throw ValidationError("give --to N or --last") }
        }

        func run() throws {
            try options.send(
                ControlRequest(
                    command: .rollback, group: options.group, revision: to, last: last ? true : nil,
                    dryRun: dryRun ? true : nil))
        }
    }
}
