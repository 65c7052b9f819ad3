import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// A daemon's pid file, and what /proc says of a process.
public enum Pidfile {
    /// The pid in the file, if that process is alive (and not a zombie).
    public static func read(_ path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = pid_t(text.split(whereSeparator: { $0.isWhitespace }).first ?? ""), pid > 0, isAlive(pid)
        else { return nil }
        return pid
    }

    /// Whether a process exists and is not a zombie.
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // A zombie still answers kill(0): its state in /proc/PID/stat says Z.
        guard let state = statFields(pid)?.first else { return true }
        return state != "Z" && state != "X"
    }

    /// The fields of /proc/PID/stat after the command name (which may hold spaces and
    /// parentheses): the state first, then the parent's pid.
    public static func statFields(_ pid: pid_t) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else {
            return nil
        }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}
