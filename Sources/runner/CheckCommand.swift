import ArgumentParser
import FoundationEssentials
import Pipeline
import RunnerSystem

extension Runner {
    /// `runner check P.lua`: load and validate without running anything.
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load and validate a pipeline or receiver script, its secrets files and its targets.")

        @OptionGroup var options: ScriptOptions

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let script = try options.load(&logger)
                let configuration = script.configuration
                var lines: [String] = []
                var problems: [String] = []
                if let c = configuration.settings.coordination {
                    // Not fatal: a standby starts while etcd is down, and leads once it is back.
                    lines.append("coordination: sender '\(c.name)', lease \(c.lease) s")
                    for h in EtcdClient(endpoints: c.endpoints, timeout: 2).health() {
                        lines.append(
                            h.healthy
                                ? "etcd \(h.endpoint): healthy" : "warning: etcd \(h.endpoint): \(h.why ?? "unhealthy")"
                        )
                    }
                }
                for p in configuration.pipelines {
                    if let auth = p.auth {
                        _ = try SecretsFile.readSenderSecret(auth.secretFile, user: auth.user, at: p.location)
                    }
                    let needsAuth = p.destinations.contains {
                        if case .file = $0.uri { return false } else { return true }
                    }
                    if needsAuth && p.auth == nil {
                        lines.append("warning: pipeline '\(p.name)' has runner:// or ssh:// targets but no auth")
                    }
                    let rsyncTargets = p.destinations.filter {
                        if case .rsync = $0.uri { return true } else { return false }
                    }
                    if !rsyncTargets.isEmpty {
                        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
                        guard path.split(separator: ":").contains(where: { FileSystem.isExecutable("\($0)/rsync") })
                        else {
                            throw ConfigError(
                                "pipeline '\(p.name)': rsync:// targets need the rsync client, and it is not installed",
                                at: p.location, hint: "apt-get install rsync")
                        }
                        lines.append(
                            "note: pipeline '\(p.name)': \(rsyncTargets.count) rsync:// target(s) run no actions after a batch (an rsync daemon has none; applied is rsync's exit status 0)"
                        )
                    }
                    if configuration.settings.coordination != nil, let first = CoordinationSettings.unfenced(p).first {
                        lines.append(
                            "warning: pipeline '\(p.name)': \(first) keeps no fence (with two senders, use runner:// or ssh://)"
                        )
                    }
                    problems += try RenderPreview.check(p, hooks: script.hooks)
                    let targets = p.destinations.map { $0.uri.description }.joined(separator: ", ")
                    lines.append(
                        "pipeline '\(p.name)': \(p.source) -> \(targets) (\(p.ignore.count) ignore rules, delay \(p.delay)s)"
                    )
                }
                for served in configuration.modules.isEmpty ? [] : try script.servedModules() {
                    let m = served.module
                    try ModuleCheck.verify(m)
                    if m.authUsers.isEmpty && !m.readOnly {
                        lines.append(
                            "warning: module '\(m.name)' is writable without auth_users (anyone allowed by hosts_allow can push)"
                        )
                    }
                    let underSystemd = ProcessInfo.processInfo.environment["INVOCATION_ID"] != nil
                    for case .spec("phpfpm.reload", let parameters) in m.onSync
                    where underSystemd && parameters["service"] == nil {
                        lines.append(
                            "warning: module '\(m.name)': phpfpm.reload without service = under systemd: a php-fpm it has to start again would live in runner's sandbox and cgroup, and stop with it; set service = \"php8.2-fpm\""
                        )
                    }
                    lines.append("module '\(m.name)': \(m.path) (\(m.onSync.count) on_sync actions)")
                    lines += served.actionLines.enumerated().map { "  on_sync \($0.offset + 1): \($0.element)" }
                    problems += served.problems
                }
                if !problems.isEmpty {
                    throw ConfigError(
                        problems.joined(separator: "\n  "), at: SourceLocation(file: options.script, line: 0))
                }
                if configuration.pipelines.isEmpty && configuration.modules.isEmpty {
                    throw ConfigError(
                        "declares no pipeline and no module", at: SourceLocation(file: options.script, line: 0))
                }
                print("\(options.script): ok")
                for l in lines { print("  " + l) }
            }
        }
    }
}
