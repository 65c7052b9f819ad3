import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The native php-fpm reload (`phpfpm.reload { ... }` in plugins/phpfpm.lua):
///
/// 1. validate: `php-fpm -t` with the running master's binary and `--fpm-config`
///    (from /proc, unless given); a non-zero exit, "syntax error" or an ERROR line
///    fails it and the batch is rolled back before php-fpm ever sees the files;
/// 2. reload: SIGUSR2 to the master, one reload at a time per pid file (a lock file
///    beside it), then wait until the master is back: the pid file names a live
///    master, and the workers it had before are gone (php-fpm re-executes itself on
///    USR2; with `daemonize = yes` the new master has a new pid);
/// 3. verify: a FastCGI request to `check_address` for `check_script` answers with a
///    status below 400 before the deadline.
///
/// A failed reload or verification puts the previous files back and reloads php-fpm
/// again (or starts it, when the master died: `systemctl restart` for a `service`, the
/// binary itself otherwise), so a bad batch never leaves php-fpm down.
struct PhpFpmReload: SyncAction {
    let binary: String?
    let config: String?
    let pidfile: String
    let service: String?
    let checkAddress: String?
    let checkScript: String?
    let arguments: [String]
    let timeout: Double

    var name: String { "php-fpm reload" }
    var validates: Bool { true }

    init(_ p: inout ActionParameters) throws(ConfigError) {
        binary = try p.text("binary")
        config = try p.text("config")
        guard let pidfile = try p.text("pidfile") else {
            throw p.error(
                "'pidfile' is missing",
                hint: "phpfpm.reload { service = \"php8.2-fpm\" } fills it in for Debian's packages")
        }
        self.pidfile = pidfile
        service = try p.text("service")
        checkAddress = try p.text("check_address")
        checkScript = try p.text("check_script")
        arguments = try p.list("args") ?? []
        timeout = try p.seconds("timeout", default: 10)
        if checkScript != nil, checkAddress == nil {
            throw p.error("check_script needs check_address (a pool's host:port or socket)")
        }
    }

    func problems() -> [String] {
        var found: [String] = []
        if let binary, !FileSystem.isExecutable(binary) { found.append("binary \(binary) is not an executable file") }
        if let config, FileInfo.lstat(config) == nil { found.append("config \(config) does not exist") }
        if Pidfile.read(pidfile) == nil {
            found.append(
                "pidfile \(pidfile) names no running php-fpm"
                    + (binary == nil || config == nil ? " (and binary and config are not set)" : ""))
        }
        if let checkScript, checkScript.hasPrefix("/"), checkAddress != nil, FileInfo.lstat(checkScript) == nil,
            !checkScript.contains("ping")
        {
            found.append("check_script \(checkScript) does not exist")
        }
        return found
    }

    func run(_ context: ActionContext) -> ActionResult {
        let deadline = MonotonicClock.now + timeout
        let master = Pidfile.read(pidfile)
        guard let binary = binary ?? master.flatMap(PhpFpmReload.executable) else {
            return ActionResult(
                name: name, outcome: .failed,
                summary: "php-fpm is not running (\(pidfile)) and binary is not set: cannot validate")
        }
        let config = self.config ?? master.flatMap(PhpFpmReload.configOfMaster)
        let test = CommandRun(
            [binary] + arguments + ["-t"] + (config.map { ["--fpm-config", $0] } ?? []), timeout: timeout)
        if let failure = PhpFpmReload.validationFailure(test, timeout: timeout) {
            return ActionResult(
                name: name, outcome: test.ending == .timedOut ? .timedOut : .failed, summary: "php-fpm -t: \(failure)",
                exitStatus: test.exitStatus, output: test.output)
        }
        guard let master else {
            return ActionResult(
                name: name, outcome: .ok, summary: "php-fpm is not running: validated, not reloaded", exitStatus: 0,
                output: test.output)
        }
        let lock = ReloadLock(pidfile: pidfile, deadline: deadline)
        defer { lock.release() }
        if let failure = reload(master, deadline: deadline) ?? verify(deadline: deadline) {
            context.logger.error(
                "php-fpm reload failed: \(failure); putting the previous files back",
                metadata: ["module": "\(context.module.name)"])
            context.undo()
            let recovered = recover(binary: binary, config: config, deadline: MonotonicClock.now + timeout)
            return ActionResult(
                name: name, outcome: .failed, summary: "\(failure); rolled back, \(recovered)", output: test.output)
        }
        let pid = Pidfile.read(pidfile).map { " (master \($0))" } ?? ""
        return ActionResult(
            name: name, outcome: .ok, summary: "php-fpm reloaded\(pid)", exitStatus: 0, output: test.output)
    }

    /// Why `php-fpm -t` refused the configuration, or nil when it passed.
    static func validationFailure(_ run: CommandRun, timeout: Double) -> String? {
        let lines = run.output.split(separator: "\n")
        let bad = lines.filter { $0.contains("ERROR:") || $0.lowercased().contains("syntax error") }
        if run.succeeded && bad.isEmpty { return nil }
        // "[27-Nov-2026 10:00:00] ERROR: ..." -> "ERROR: ...": the time says nothing here.
        let shown = bad.map { line -> Substring in
            guard line.hasPrefix("["), let close = line.firstIndex(of: "]") else { return line }
            return line[line.index(after: close)...].drop(while: { $0 == " " })
        }
        let why = shown.isEmpty ? (lines.last.map(String.init) ?? "") : shown.joined(separator: "; ")
        return run.succeeded ? why : "\(run.describe(timeout: timeout))\(why.isEmpty ? "" : ": " + why)"
    }

    /// Sends USR2 and waits until a master is back without the old workers; nil when it is.
    private func reload(_ master: pid_t, deadline: Double) -> String? {
        let before = PhpFpmReload.children(of: master)
        guard kill(master, SIGUSR2) == 0 else { return "kill -USR2 \(master): \(SystemError.text())" }
        // No live master for a second (a daemonizing master has its new pid written by then): it died.
        var deadSince: Double?
        while MonotonicClock.now < deadline {
            if let now = Pidfile.read(pidfile) {
                deadSince = nil
                let workersGone = !before.contains(where: {
                    Pidfile.isAlive($0) && PhpFpmReload.parent(of: $0) == master
                })
                if now != master || workersGone { return nil }
            } else if let since = deadSince {
                if MonotonicClock.now - since > 1 { break }
            } else {
                deadSince = MonotonicClock.now
            }
            usleep(10_000)
        }
        return Pidfile.read(pidfile) == nil
            ? "the php-fpm master died during the reload"
            : "the reload did not finish in \(MonotonicClock.text(seconds: timeout))"
    }

    /// Asks the pool for the check script until it answers or the deadline passes; nil when it did.
    private func verify(deadline: Double) -> String? {
        guard Pidfile.read(pidfile) != nil else { return "the php-fpm master died during the reload" }
        guard let checkAddress else { return nil }
        var last = "no answer"
        while MonotonicClock.now < deadline {
            do {
                let answer = try FastCGIClient(address: checkAddress).request(
                    script: checkScript ?? "/ping", deadline: deadline)
                if answer.status < 400 { return nil }
                last = "status \(answer.status): \(answer.body.prefix(200))"
                break
            } catch {
                last = error.description
                if Pidfile.read(pidfile) == nil { return "the php-fpm master died during the reload" }
                usleep(20_000)
            }
        }
        return "FastCGI check of \(checkAddress) failed: \(last)"
    }

    /// After the previous files are back: reload the master if it lives, start it if not.
    private func recover(binary: String, config: String?, deadline: Double) -> String {
        if let master = Pidfile.read(pidfile) {
            return reload(master, deadline: deadline) == nil
                ? "php-fpm reloaded with the previous files" : "php-fpm did not reload again"
        }
        let start =
            service.map { ["systemctl", "restart", $0] }
            ?? ([binary] + arguments + (config.map { ["--fpm-config", $0] } ?? []))
        let run = CommandRun(start, timeout: max(1, deadline - MonotonicClock.now))
        while MonotonicClock.now < deadline {
            if let pid = Pidfile.read(pidfile) { return "php-fpm restarted with the previous files (master \(pid))" }
            usleep(20_000)
        }
        return
            "php-fpm could not be started again (\(start.joined(separator: " ")): \(run.describe(timeout: timeout)) \(run.output.suffix(300)))"
    }

    /// The master's binary, from /proc (an upgraded package shows " (deleted)").
    static func executable(of pid: pid_t) -> String? {
        guard var path = FileSystem.readLink("/proc/\(pid)/exe") else { return nil }
        if path.hasSuffix(" (deleted)") { path.removeLast(" (deleted)".count) }
        return path
    }

    /// php-fpm renames its master "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)".
    static func configOfMaster(_ pid: pid_t) -> String? {
        guard let title = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
            let open = title.firstIndex(of: "("),
            let close = title.lastIndex(of: ")"), open < close
        else { return nil }
        return String(title[title.index(after: open)..<close])
    }

    static func children(of pid: pid_t) -> [pid_t] {
        ((try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? "").split(
            separator: " "
        ).compactMap { pid_t($0) }
    }

    static func parent(of pid: pid_t) -> pid_t? {
        guard let fields = Pidfile.statFields(pid), fields.count > 1 else { return nil }
        return pid_t(fields[1])
    }
}

/// One reload at a time for a php-fpm (sessions are separate processes): an flock on
/// `<pidfile>.runner.lock`, waited for until the deadline.
struct ReloadLock {
    private let fd: Int32

    init(pidfile: String, deadline: Double) {
        fd = open(pidfile + ".runner.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        while flock(fd, LOCK_EX | LOCK_NB) != 0, MonotonicClock.now < deadline { usleep(10_000) }
    }

    func release() {
        if fd >= 0 { close(fd) }
    }
}
