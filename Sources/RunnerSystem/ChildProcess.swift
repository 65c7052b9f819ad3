import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Starts child processes (ssh for `ssh://` targets, the commands of actions) with
/// the given descriptors as stdin and stdout.
public enum ChildProcess {
    /// Spawns `argv` (searched on PATH when `search`), returning its pid or errno.
    /// The child starts with no blocked signals and default dispositions for those
    /// this process blocks or ignores (SIGTERM, SIGINT, SIGHUP go to RunControl's
    /// signalfd; SIGPIPE is an error on write): both would otherwise survive exec, and a
    /// child that cannot be stopped with SIGTERM outlives its parent's shutdown.
    /// Only descriptors 0-2 are passed on.
    /// `processGroup` puts it in a group of its own (to end it and what it started);
    /// `environment` is added to ours.
    public static func spawn(
        _ argv: [String], stdin: Int32, stdout: Int32, stderr: Int32? = nil, search: Bool,
        processGroup: Bool = false, environment: [String: String] = [:]
    ) throws(SystemError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) }
        // Nothing else of ours goes with it: a daemon it starts (php-fpm restarted by an
        // action) must not hold a pipe or socket of ours open for its whole life.
        posix_spawn_file_actions_addclosefrom_np(&actions, 3)
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
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if processGroup {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let args = argv.map { strdup($0) } + [nil]
        defer { for a in args { free(a) } }
        // Ours, less the names `environment` sets anew.
        var env: [UnsafeMutablePointer<CChar>?] = []
        var p = environ
        while let entry = p.pointee {
            let name =
                String(cString: entry).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(
                    String.init) ?? ""
            if environment[name] == nil { env.append(strdup(entry)) }
            p += 1
        }
        for (k, v) in environment { env.append(strdup("\(k)=\(v)")) }
        env.append(nil)
        defer { for e in env { free(e) } }
        var pid = pid_t()
        let rc =
            search
            ? posix_spawnp(&pid, argv[0], &actions, &attributes, args, env)
            : posix_spawn(&pid, argv[0], &actions, &attributes, args, env)
        guard rc == 0 else { throw SystemError("run", path: argv[0], code: rc) }
        return pid
    }
}
