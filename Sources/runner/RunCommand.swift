import ArgumentParser
import Logging
import LuaBridge
import Pipeline
import RunnerSystem

extension Runner {
    /// `runner run P.lua`: the service.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sync every pipeline once, then watch and push each batch of changes.")

        @OptionGroup var options: ScriptOptions

        @Flag(
            help:
                "Print each batch (every path, the rule that dropped it or the targets it would go to) and touch nothing."
        )
        var dryRun = false

        @Flag(help: "Sync once and exit; the exit status is the result.")
        var once = false

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let script = try options.load(&logger)
                let runners = try makeRunners(script, logger)
                let control = RunControl(logger: logger)
                let settings = script.configuration.settings
                let loop = RunLoop(
                    pipelines: runners, control: control, logger: logger, stopTimeout: settings.stopTimeout
                ) { [options] in
                    try makeRunners(LoadedScript(options.script, logger: logger), logger)
                }
                if once {
                    guard loop.runOnce() else { throw Exit.runtimeFailure }
                    return
                }
                // Not for --once or --dry-run: a one-off run is no service.
                let face =
                    try dryRun ? nil : ServiceFace(settings: settings, version: RunnerVersion.current, logger: logger)
                face?.attach(loop)
                do {
                    try loop.run()
                } catch {
                    logger.critical("\(error)")
                    throw Exit.runtimeFailure
                }
            }
        }

        private func makeRunners(_ script: LoadedScript, _ logger: Logger) throws -> [PipelineRunner] {
            try script.pipelines().map { p in
                try PipelineRunner(
                    config: p, hooks: script.hooks, logger: logger, dryRun: dryRun,
                    stateDirectory: script.configuration.settings.stateDirectory,
                    coordination: script.configuration.settings.coordination
                ) { text in Output.out(text + "\n") }
            }
        }
    }
}
