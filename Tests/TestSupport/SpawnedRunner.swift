import Foundation

/// `runner` started with posix_spawn and reaped with waitpid by this object alone: for
/// tests that SIGKILL processes again and again (Foundation's `Process` was seen leaving a
/// killed daemon a zombie it never noticed, so a wait for it never ended).
public final class SpawnedRunner: @unchecked Sendable {
    // @unchecked: driven by one test task at a time; `status` is set once, by `reap`.
    public let pid: pid_t
    private let stderrPath: String
    private var status: Int32?

    /// `ownGroup`: the process leads a process group of its own (with the sessions a daemon
    /// forks), which `signalGroup` signals whole, as systemd stops a unit's cgroup.
    public init(_ arguments: [String], logDirectory: String, ownGroup: Bool = false) throws {
        stderrPath = logDirectory + "/runner.stderr.\(UUID().uuidString)"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        self.pid = try freshSpawn(
            RunnerProcess.binary, [RunnerProcess.binary] + arguments,
            environment: RunnerProcess.environment(logDirectory: logDirectory), actions: &actions,
            processGroup: ownGroup)
    }

    deinit {
        if status == nil {
            Foundation.kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    /// What the process wrote to stderr so far.
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until stderr contains `text` (false when the process ends first, or past `timeout`).
    public func waitForLog(_ text: String, timeout: Double = 20) async -> Bool {
        await eventually(timeout: timeout) { stderr.contains(text) || reap() } && stderr.contains(text)
    }

    public func signal(_ sig: Int32) { Foundation.kill(pid, sig) }

    /// Signals the process group it leads (spawned with `ownGroup`).
    public func signalGroup(_ sig: Int32) { Foundation.kill(-pid, sig) }

    /// Waits for the exit and returns its wait status; nil past `timeout`.
    public func waitForExit(timeout: Double = 20) async -> Int32? {
        await eventually(timeout: timeout) { reap() } ? status : nil
    }

    /// Whether the process has ended (reaped now or before).
    private func reap() -> Bool {
        if status != nil { return true }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        guard rc == pid || (rc < 0 && errno == ECHILD) else { return false }
        status = raw
        return true
    }
}
