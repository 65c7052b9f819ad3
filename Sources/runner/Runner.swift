#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import FoundationEssentials
import LuaBridge
import Logging
import Pipeline

/// `runner`: a scriptable sync pipeline (watch -> filter -> transfer -> action).
@main
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Watch a tree, filter the noise, and push each batch of changes to groups of hosts.",
        discussion: """
            Exit status: 0 ok, 1 runtime failure (a target or an action failed),
            2 configuration error (Lua, secrets, targets), 64 usage error.
            """,
        version: RunnerVersion.current,
        subcommands: [Run.self, Check.self, Explain.self, Serve.self, Receive.self, Delta.self]
    )
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Log format on stderr: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .long, help: "Log level, overriding settings { log = ... }: trace, debug, info, notice, warning, error.")
    var logLevel: String?
}

enum LogFormat: String, ExpressibleByArgument, Sendable { case text, json }

/// Exit codes of DESIGN.md.
enum Exit {
    static let runtimeFailure: Int32 = 1
    static let configError: Int32 = 2
}

/// Loads a configuration file, mapping every failure to a configuration error.
func loadConfiguration(_ file: String, logger: Logger) throws -> (ConfigLoader, Configuration, any PipelineHooks) {
    let loader = ConfigLoader(file: file, logger: logger)
    let (configuration, hooks) = try loader.load()
    return (loader, configuration, hooks)
}

/// Runs a command body; configuration errors print `runner: file:line: message` and exit 2.
func withExitCodes(_ body: () throws -> Int32) -> Never {
    do {
        exit(try body())
    } catch let error as ConfigError {
        Output.err("runner: \(error)\n")
        exit(Exit.configError)
    } catch let error as LuaError {
        Output.err("runner: \(error)\n")
        exit(Exit.configError)
    } catch let error as TransferError {
        Output.err("runner: \(error)\n")
        exit(Exit.runtimeFailure)
    } catch let error as DeltaError {
        Output.err("runner: \(error)\n")
        exit(Exit.runtimeFailure)
    } catch let error as ExitCode {
        exit(error.rawValue)
    } catch {
        Output.err("runner: \(error)\n")
        exit(Exit.runtimeFailure)
    }
}
