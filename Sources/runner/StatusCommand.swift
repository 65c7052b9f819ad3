import ArgumentParser
import Pipeline

extension Runner {
    /// `runner status`: which host has which batch, from a running service's status address.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a running runner's hosts (or a receiver's modules); exit 0 when every host is current.",
            discussion: """
                Asks the status address of settings { status = ... } in SCRIPT, or --address.
                Exit status: 0 every host current and nothing unhealthy, 1 otherwise or unreachable,
                2 a script without a status address.
                """)

        @Argument(help: "The pipeline or receiver script whose settings name the status address.")
        var script: String?

        @Option(help: "The status address (host:port), instead of a script's.")
        var address: String?

        @Flag(help: "Print the status as JSON, as /status serves it.")
        var json = false

        func validate() throws {
            guard (script == nil) != (address == nil) else {
                throw ValidationError("give a script or --address, not both or neither")
            }
        }

        func run() throws {
            try reportingErrors {
                var target = address ?? ""
                var coordination: CoordinationSettings?
                if let script {
                    let loaded = try LoadedScript.quiet(script)
                    coordination = loaded.configuration.settings.coordination
                    guard let status = loaded.configuration.settings.status else {
                        throw ConfigError(
                            "settings have no status address", at: SourceLocation(file: script, line: 0),
                            hint: "add settings { status = \"127.0.0.1:9873\" }, or use --address")
                    }
                    guard !status.hasSuffix(":0") else {
                        throw ConfigError(
                            "the status address \(status) has port 0, picked anew at each start",
                            at: SourceLocation(file: script, line: 0),
                            hint: "use --address with the port the log's 'status on' line names")
                    }
                    target = status
                }
                let answer = try StatusClient.get("/status", from: target)
                guard answer.status == 200 else {
                    throw StatusClient.Failure(description: "\(target) answered \(answer.status)")
                }
                let status = try ServiceStatus.decode(answer.body)
                Output.out(json ? String(decoding: answer.body, as: UTF8.self) : status.table)
                // Who leads is the service's to say; how etcd is, anyone's who can reach it.
                if !json, let c = coordination {
                    for h in EtcdClient(endpoints: c.endpoints, timeout: 2).health() {
                        Output.out("etcd \(h.endpoint): \(h.healthy ? "healthy" : "unhealthy: \(h.why ?? "?")")\n")
                    }
                }
                guard status.allCurrent && status.problems.isEmpty else { throw Exit.runtimeFailure }
            }
        }
    }
}
