#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import FoundationEssentials
import LuaBridge
import Logging
import Pipeline
import RunnerSystem

extension Runner {
    /// `runner run P.lua`: the service.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sync every pipeline once, then watch and push each batch of changes.")

        @Argument(help: "The pipeline script.")
        var script: String

        @Flag(help: "Print each batch (every path, the rule that dropped it or the targets it would go to) and touch nothing.")
        var dryRun = false

        @Flag(help: "Sync once and exit; the exit status is the result.")
        var once = false

        @OptionGroup var common: CommonOptions

        func run() throws {
            withExitCodes {
                var logger = makeLogger(common)
                let (_, configuration, hooks) = try loadConfiguration(script, logger: logger)
                if common.logLevel == nil, let level = Logger.Level(rawValue: configuration.settings.logLevel) {
                    logger.logLevel = level
                }
                guard !configuration.pipelines.isEmpty else {
                    throw ConfigError("declares no pipeline", at: SourceLocation(file: script, line: 0),
                                      hint: "add pipeline \"name\" { source = ..., to = ... }")
                }
                let runners = try makeRunners(configuration, hooks, logger)
                let control = RunControl(logger: logger)
                let loop = RunLoop(pipelines: runners, control: control, logger: logger) { [script] in
                    let (_, fresh, freshHooks) = try loadConfiguration(script, logger: logger)
                    guard !fresh.pipelines.isEmpty else { throw ConfigError("declares no pipeline", at: SourceLocation(file: script, line: 0)) }
                    return try makeRunners(fresh, freshHooks, logger)
                }
                if once {
                    return loop.runOnce() ? 0 : Exit.runtimeFailure
                }
                do {
                    try loop.run()
                } catch {
                    logger.critical("\(error)")
                    return Exit.runtimeFailure
                }
                return 0
            }
        }

        private func makeRunners(_ configuration: Configuration, _ hooks: any PipelineHooks, _ logger: Logger) throws -> [PipelineRunner] {
            try configuration.pipelines.map { p in
                try PipelineRunner(config: p, hooks: hooks, logger: logger, dryRun: dryRun) { text in
                    Output.out(text + "\n")
                }
            }
        }
    }
}
