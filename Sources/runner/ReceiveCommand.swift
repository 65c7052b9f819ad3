import ArgumentParser
import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

extension Runner {
    /// `runner receive R.lua --module M`: one receiver session on stdin/stdout (what ssh runs).
    struct Receive: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve one sender on standard input and output for a module of a receiver script (run by ssh).")

        @OptionGroup var options: ScriptOptions

        @Option(help: "The module to serve.")
        var module: String

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let script = try options.load(&logger)
                guard script.configuration.modules.contains(where: { $0.name == module }) else {
                    throw ConfigError(
                        "no module '\(module)'", at: SourceLocation(file: options.script, line: 0),
                        hint: ConfigError.suggestion(for: module, among: script.configuration.modules.map(\.name)))
                }
                let modules = try script.servedModules()
                // A sender that goes away must not kill us with SIGPIPE mid-commit.
                signal(SIGPIPE, SIG_IGN)
                do {
                    try ReceiverSession.serve(
                        modules: modules, mode: .ssh(module: module), input: 0, output: 1, logger: logger)
                } catch {
                    throw Exit.runtimeFailure
                }
            }
        }
    }
}
