#if canImport(Glibc)
    import Glibc
#endif

/// Runs a command to completion or to its deadline, with stdout and stderr captured
/// together (the end of it is kept) and stdin from /dev/null. The command gets its own
/// process group, so a timeout ends it and everything it started: SIGTERM, then
/// SIGKILL a second later.
public struct CommandRun {
    /// How the command ended.
    public enum Ending: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case notStarted(String)
    }

    public let ending: Ending
    /// What it wrote: its last lines, up to `outputLimit` bytes.
    public let output: String
    /// The most output kept, in bytes: the end of it, where the error usually is.
    public static let outputLimit = 4000

    public var succeeded: Bool { ending == .exited(0) }

    public var exitStatus: Int32? {
        switch ending {
        case .exited(let s): return s
        case .signalled(let s): return 128 + s
        default: return nil
        }
    }

    /// How it ended, in words: "exit status 78", "killed by signal 9", "timed out after 5s".
    public func describe(timeout: Double) -> String {
        switch ending {
        case .exited(let s): return "exit status \(s)"
        case .signalled(let s): return "killed by signal \(s)"
        case .timedOut: return "timed out after \(MonotonicClock.text(seconds: timeout))"
        case .notStarted(let why): return "could not start: \(why)"
        }
    }

    /// Runs `argv` (searched on PATH) with `environment` added to ours.
    public init(_ argv: [String], environment: [String: String] = [:], timeout: Double) {
        var pipeFDs: [Int32] = [-1, -1]
        guard !argv.isEmpty, pipe(&pipeFDs) == 0 else {
            ending = .notStarted(argv.isEmpty ? "empty command" : String(cString: strerror(errno)))
            output = ""
            return
        }
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let spawned = Result { () throws(SystemError) in
            try ChildProcess.spawn(
                argv, stdin: null, stdout: pipeFDs[1], stderr: pipeFDs[1], search: true, processGroup: true,
                environment: environment)
        }
        close(null)
        close(pipeFDs[1])
        let reader = pipeFDs[0]
        defer { close(reader) }
        let pid: pid_t
        switch spawned {
        case .success(let started): pid = started
        case .failure(let error):
            ending = .notStarted(error.code.map { SystemError.text($0) } ?? error.reason)
            output = ""
            return
        }
        var captured: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        let deadline = MonotonicClock.now + timeout
        var open = true
        var timedOut = false
        var killAt: Double?
        var status: Int32 = 0
        while true {
            let now = MonotonicClock.now
            if !timedOut, now >= deadline {
                timedOut = true
                kill(-pid, SIGTERM)
                killAt = now + 1
            }
            if let k = killAt, now >= k {
                kill(-pid, SIGKILL)
                killAt = nil
            }
            if open {
                var p = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
                let wait = min(max(0, (killAt ?? deadline) - now), 0.05)
                if poll(&p, 1, Int32(wait * 1000) + 1) > 0 {
                    let n = read(reader, &buffer, buffer.count)
                    if n > 0 {
                        captured += buffer[..<n]
                        if captured.count > 2 * CommandRun.outputLimit {
                            captured.removeFirst(captured.count - CommandRun.outputLimit)
                        }
                    } else if n == 0 || errno != EINTR {
                        open = false
                    }
                }
            } else {
                usleep(5000)
            }
            // The command is done when it exited; a grandchild that keeps the pipe open
            // does not hold us (its group is ended below).
            if waitpid(pid, &status, WNOHANG) == pid { break }
        }
        // A command that timed out takes what it started with it; one that finished may
        // leave a daemon behind on purpose (php-fpm started again), which stays.
        if timedOut { kill(-pid, SIGKILL) }
        while open {
            var p = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 0) > 0 else { break }
            let n = read(reader, &buffer, buffer.count)
            if n <= 0 { break }
            captured += buffer[..<n]
        }
        output = CommandRun.tail(String(decoding: captured, as: UTF8.self))
        if timedOut {
            ending = .timedOut
        } else if status & 0x7f == 0 {
            ending = .exited((status >> 8) & 0xff)
        } else {
            ending = .signalled(status & 0x7f)
        }
    }

    /// The last lines of `text` that fit in `outputLimit` bytes.
    static func tail(_ text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count > outputLimit else { return text }
        var cut = bytes.count - outputLimit
        while cut < bytes.count, bytes[cut - 1] != UInt8(ascii: "\n") { cut += 1 }
        return String(decoding: bytes[cut...], as: UTF8.self)
    }
}
