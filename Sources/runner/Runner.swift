import ArgumentParser
import LuaBridge
import LuaKit
import Pipeline
import RunnerSystem

/// `runner`: a scriptable sync pipeline (watch -> filter -> transfer -> action).
@main
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Watch a tree, filter the noise, and push each batch of changes to groups of hosts.",
        discussion: Runner.manual,
        version: RunnerVersion.current,
        subcommands: [
            Run.self, Check.self, Explain.self, Render.self, Serve.self, Receive.self, Status.self, Log.self,
            Diff.self, Approve.self, Reject.self, Rollback.self, Keys.self, Delta.self, Pull.self,
        ]
    )

    /// Names an unknown subcommand as one (the parser would call it and the script two
    /// unexpected arguments), with the nearest known name; then parses as usual.
    static func main() {
        AllocatorTuning.apply()
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        if let first = CommandLine.arguments.dropFirst().first, !first.hasPrefix("-"), !names.contains(first) {
            let hint = ConfigError.suggestion(for: first, among: names).map { " (\($0))" } ?? ""
            Output.err(
                "runner: unknown subcommand '\(first)'\(hint); the subcommands are \(names.dropLast().joined(separator: ", "))\n"
            )
            Self.exit(withError: ExitCode(64))
        }
        Self.main(nil)
    }
}

extension Runner {
    /// What `runner help` prints above the commands: the manual page.
    static let manual = """
        runner run P.lua watches the pipeline's source with inotify, drops
        temp-file noise with its ignore rules, cuts changes into batches and
        pushes each batch as deltas to its hosts (runner://, ssh://, file://),
        each host on its own. runner serve R.lua, on each host, applies a batch
        atomically, runs the module's actions (php-fpm -t, one reload) and rolls
        the batch back when one refuses it.

        SIGNALS
          SIGHUP   reload the script; a broken one is refused, the old one goes on
          SIGTERM  stop watching, send what is pending to the hosts that are up
          SIGINT   within settings { stop_timeout } (10 s), then exit 0; a second
                   signal stops at once

        SERVICE
          Under systemd (Type=notify): READY=1 once every host's first sync came
          back (run) or once listening (serve); RELOADING=1, STOPPING=1,
          WATCHDOG=1 every half WatchdogSec, and a one-line STATUS=. Units:
          runner@.service and runner-serve@.service in PREFIX/lib/systemd/system.
          settings { status = "127.0.0.1:9873" } serves / (a page), /status
          (JSON), /metrics (Prometheus) and /healthz (503 when a group is halted
          or a host has been behind longer than behind_limit, 300 s); runner
          status reads it. settings { metrics_file = PATH } also writes the
          metrics for node-exporter's textfile collector.

        FILES
          /etc/runner/NAME.lua         the scripts the units run
          /var/lib/runner/PIPELINE     state: revisions/, objects/ (the content
                                       store), rollout.json and its journal,
                                       history (runner log), control.sock
                                       (runner approve, reject, rollback)
                                       (settings { state_dir }; for other users
                                       $XDG_STATE_HOME/runner or
                                       ~/.local/state/runner)
          PREFIX/share/runner/plugins  what a script require()s (tempfiles, phpfpm)
          PREFIX/share/runner/samples  example pipeline and receiver scripts

        ENVIRONMENT
          RUNNER_PLUGIN_PATH  more plugin directories, colon-separated
          NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID  set by systemd

        EXIT STATUS
          0 ok; 1 runtime failure (a target or an action failed; for runner
          status, a host not current); 2 configuration error (Lua, secrets,
          targets); 64 usage error.
        """
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
