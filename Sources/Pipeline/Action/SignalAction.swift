#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// `{ kind = "signal", pidfile = "/run/x.pid", signal = "HUP" }`: signals the process
/// whose pid the file holds (read at each batch: a restarted daemon has a new pid).
struct SignalAction: SyncAction {
    let pidfile: String
    let signal: Int32
    let signalName: String

    static let names: [String: Int32] = ["HUP": SIGHUP, "USR1": SIGUSR1, "USR2": SIGUSR2, "TERM": SIGTERM, "INT": SIGINT,
                                          "QUIT": SIGQUIT, "WINCH": SIGWINCH]

    var name: String { "signal \(signalName) to \(pidfile)" }
    var validates: Bool { false }

    init(_ p: inout ActionParameters) throws(ConfigError) {
        guard let pidfile = try p.text("pidfile") else { throw p.error("'pidfile' is missing") }
        self.pidfile = pidfile
        let raw = (try p.text("signal") ?? "HUP").uppercased()
        signalName = raw.hasPrefix("SIG") ? String(raw.dropFirst(3)) : raw
        guard let s = SignalAction.names[signalName] else {
            throw p.error("unknown signal '\(raw)'", hint: "one of \(SignalAction.names.keys.sorted().joined(separator: ", "))")
        }
        signal = s
    }

    func run(_ context: ActionContext) -> ActionResult {
        guard let pid = Pidfile.read(pidfile) else {
            return ActionResult(name: name, outcome: .failed, summary: "no running process in \(pidfile)")
        }
        guard kill(pid, signal) == 0 else {
            return ActionResult(name: name, outcome: .failed, summary: "kill \(pid): \(FS.errorText())")
        }
        return ActionResult(name: name, outcome: .ok, summary: "sent SIG\(signalName) to \(pid)")
    }

    func problems() -> [String] {
        Pidfile.read(pidfile) == nil ? ["\(pidfile) names no running process"] : []
    }
}

/// A daemon's pid file, and what /proc says of a process.
enum Pidfile {
    /// The pid in the file, if that process is alive (and not a zombie).
    static func read(_ path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = pid_t(text.split(whereSeparator: { $0.isWhitespace }).first ?? ""), pid > 0, isAlive(pid) else { return nil }
        return pid
    }

    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // A zombie still answers kill(0): its state in /proc/PID/stat says Z.
        guard let state = statFields(pid)?.first else { return true }
        return state != "Z" && state != "X"
    }

    /// The fields of /proc/PID/stat after the command name (which may hold spaces and
    /// parentheses): the state first, then the parent's pid.
    static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return nil
        }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}
