#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import LuaBridge
import Logging
import Pipeline

extension Runner {
    /// `runner receive R.lua --module M`: one receiver session on stdin/stdout (what ssh runs).
    struct Receive: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve one sender on standard input and output for a module of a receiver script (run by ssh).")

        @Argument(help: "The receiver script.")
        var script: String

        @Option(help: "The module to serve.")
        var module: String

        @OptionGroup var common: CommonOptions

        func run() throws {
            withExitCodes {
                let logger = makeLogger(common)
                let (_, configuration, hooks) = try loadConfiguration(script, logger: logger)
                guard configuration.modules.contains(where: { $0.name == module }) else {
                    throw ConfigError("no module '\(module)'", at: SourceLocation(file: script, line: 0),
                                      hint: ConfigError.suggestion(for: module, among: configuration.modules.map(\.name)))
                }
                // A sender that goes away must not kill us with SIGPIPE mid-commit.
                signal(SIGPIPE, SIG_IGN)
                do {
                    try ReceiverSession.serve(modules: configuration.modules, mode: .ssh(module: module), input: 0, output: 1, logger: logger,
                                              actionHooks: hooks as? ActionHooks)
                } catch {
                    return Exit.runtimeFailure
                }
                return 0
            }
        }
    }
}
