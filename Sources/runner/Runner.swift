import ArgumentParser
import LuaBridge
import LuaKit
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
        subcommands: [Run.self, Check.self, Explain.self, Render.self, Serve.self, Receive.self, Delta.self]
    )
}

/// Exit codes of DESIGN.md.
enum Exit {
    static let runtimeFailure = ExitCode(1)
    static let configError = ExitCode(2)
}

/// Runs a command's body and turns what it throws into an exit status: a configuration
/// error prints `runner: file:line: message` and exits 2, any other failure prints
/// `runner: message` and exits 1; exit codes and usage errors pass through.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch let error as ConfigError {
        Output.err("runner: \(error)\n")
        throw Exit.configError
    } catch let error as LuaError {
        Output.err("runner: \(error)\n")
        throw Exit.configError
    } catch {
        Output.err("runner: \(error)\n")
        throw Exit.runtimeFailure
    }
}
