import ArgumentParser
import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

extension Runner {
    /// `runner pull R.lua --module M --once`: a module with `upstream` dials its sender, is
    /// brought to its approved revision, and the command exits (at boot, or from cron).
    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Dial a module's upstream sender once, apply what it sends until the module is at its approved revision, and exit."
        )

        @OptionGroup var options: ScriptOptions

        @Option(help: "The module to pull (it must have an upstream).")
        var module: String

        @Flag(help: "Exit once the module is at its approved revision (required: a lasting dial is runner serve's).")
        var once = false

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let script = try options.load(&logger)
                let location = SourceLocation(file: options.script, line: 0)
                guard once else {
                    throw ConfigError(
                        "runner pull needs --once", at: location,
                        hint: "a module that stays connected is runner serve's: upstream = { … } in its module")
                }
                guard let chosen = script.configuration.modules.first(where: { $0.name == module }) else {
                    throw ConfigError(
                        "no module '\(module)'", at: location,
                        hint: ConfigError.suggestion(for: module, among: script.configuration.modules.map(\.name)))
                }
                guard let upstream = chosen.upstream else {
                    throw ConfigError(
                        "module '\(module)' has no upstream to dial", at: chosen.location,
                        hint:
                            "upstream = { url = \"runner://sender:8731/pipeline\", name = \"…\", secret_file = \"…\" }")
                }
                let modules = try script.servedModules()
                // A sender that goes away must not kill us with SIGPIPE mid-commit.
                signal(SIGPIPE, SIG_IGN)
                if let failure = UpstreamDial.pullOnce(
                    modules: modules, module: module, upstream: upstream,
                    timeout: script.configuration.settings.handshakeTimeout,
                    idleTimeout: script.configuration.settings.idleTimeout, logger: logger)
                {
                    Output.err("runner pull: module '\(module)': \(failure)\n")
                    throw Exit.runtimeFailure
                }
            }
        }
    }
}
