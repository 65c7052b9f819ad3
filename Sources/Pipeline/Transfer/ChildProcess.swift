#if canImport(Glibc)
import Glibc
#endif

/// Starts child processes (ssh for `ssh://` targets, one `runner receive` per
/// daemon connection) with the given descriptors as stdin and stdout.
enum ChildProcess {
    /// Spawns `argv` (searched on PATH when `search`), returning its pid or errno.
    /// The child starts with no blocked signals and default dispositions for those
    /// this process ignores (SIGTERM, SIGINT, SIGHUP go to a dispatch source; SIGPIPE
    /// is an error on write): both would otherwise survive exec, and a child that
    /// cannot be stopped with SIGTERM outlives its parent's shutdown.
    static func spawn(_ argv: [String], stdin: Int32, stdout: Int32, search: Bool) -> Result<pid_t, Errno> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let args = argv.map { strdup($0) } + [nil]
        defer { for a in args { free(a) } }
        var pid = pid_t()
        let rc = search ? posix_spawnp(&pid, argv[0], &actions, &attributes, args, environ)
                        : posix_spawn(&pid, argv[0], &actions, &attributes, args, environ)
        return rc == 0 ? .success(pid) : .failure(Errno(rc))
    }

    /// An errno value as an error.
    struct Errno: Error, CustomStringConvertible {
        let code: Int32
        init(_ code: Int32) { self.code = code }
        var description: String { String(cString: strerror(code)) }
    }
}
