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
                let board = DialBoard()
                let runners = try makeRunners(script, logger, board)
                let control = RunControl(logger: logger)
                let settings = script.configuration.settings
                // Receivers that dial in: the listener outlives reloads, as the status address
                // does; a reload that adds the first `dial://` target starts it.
                var listener: DialListener?
                var listenedFor = settings.listen
                func listen(for script: LoadedScript) throws {
                    let settings = script.configuration.settings
                    guard !dryRun, script.configuration.pipelines.contains(where: { !$0.dialTargets.isEmpty }) else {
                        return
                    }
                    if let listener {
                        guard settings.listen == listenedFor else {
                            throw ConfigError(
                                "settings.listen is \(settings.listen) now, but dial-ins are taken on "
                                    + "\(listener.address)", hint: "the address changes at a restart")
                        }
                        return
                    }
                    let started = try DialListener(
                        listen: settings.listen, board: board, handshakeTimeout: settings.handshakeTimeout,
                        startups: settings.startups, logger: logger)
                    try started.start()
                    (listener, listenedFor) = (started, settings.listen)
                }
                try listen(for: script)
                defer { listener?.shutdown() }
                let loop = RunLoop(
                    pipelines: runners, control: control, logger: logger, stopTimeout: settings.stopTimeout
                ) { [options] in
                    let fresh = try LoadedScript(options.script, logger: logger)
                    try listen(for: fresh)
                    return try makeRunners(fresh, logger, board)
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

        private func makeRunners(_ script: LoadedScript, _ logger: Logger, _ board: DialBoard) throws
            -> [PipelineRunner]
        {
            let settings = script.configuration.settings
            try board.setSecrets(DialSecrets.read(settings, pipelines: script.configuration.pipelines))
            return try script.pipelines().map { p in
                try PipelineRunner(
                    config: p, hooks: script.hooks, logger: logger, dryRun: dryRun,
                    stateDirectory: settings.stateDirectory, coordination: settings.coordination, dialBoard: board
                ) { text in Output.out(text + "\n") }
            }
        }
    }
}
