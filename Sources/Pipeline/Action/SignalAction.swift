import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `{ kind = "signal", pidfile = "/run/x.pid", signal = "HUP" }`: signals the process
/// whose pid the file holds (read at each batch: a restarted daemon has a new pid).
struct SignalAction: SyncAction {
    let pidfile: String
    let signal: Int32
    let signalName: String

    static let names: [String: Int32] = [
        "HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "TERM": SIGTERM, "INT": SIGINT,
        "QUIT": SIGQUIT, "WINCH": SIGWINCH,
    ]

    var name: String { "signal \(signalName) to \(pidfile)" }
    var validates: Bool { false }

    init(_ p: inout ActionParameters) throws(ConfigError) {
        guard let pidfile = try p.text("pidfile") else { throw p.error("'pidfile' is missing") }
        self.pidfile = pidfile
        let raw = (try p.text("signal") ?? "HUP").uppercased()
        signalName = raw.hasPrefix("SIG") ? String(raw.dropFirst(3)) : raw
        guard let s = SignalAction.names[signalName] else {
            throw p.error(
                "unknown signal '\(raw)'", hint: "one of \(SignalAction.names.keys.sorted().joined(separator: ", "))")
        }
        signal = s
    }

    func run(_ context: ActionContext) -> ActionResult {
        guard let pid = Pidfile.read(pidfile) else {
            return ActionResult(name: name, outcome: .failed, summary: "no running process in \(pidfile)")
        }
        guard kill(pid, signal) == 0 else {
            return ActionResult(name: name, outcome: .failed, summary: "kill \(pid): \(SystemError.text())")
        }
        return ActionResult(name: name, outcome: .ok, summary: "sent SIG\(signalName) to \(pid)")
    }

    func problems() -> [String] {
        Pidfile.read(pidfile) == nil ? ["\(pidfile) names no running process"] : []
    }
}
