import Foundation

/// posix_spawn of `path` with `arguments` (argv[0] included) and `environment`, the child's
/// signals as a fresh process has them whatever this one's threads block or handle, and the
/// descriptors `actions` says. Reaped by the caller with waitpid: Foundation's `Process`
/// was seen never noticing a child's exit.
func freshSpawn(
    _ path: String, _ arguments: [String], environment: [String: String],
    actions: inout posix_spawn_file_actions_t, processGroup: Bool = false
) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t(), all = sigset_t()
    sigemptyset(&none)
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(
        &attributes,
        Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (processGroup ? POSIX_SPAWN_SETPGROUP : 0)))
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    guard rc == 0 else { throw POSIXError(.init(rawValue: rc) ?? .EIO) }
    return pid
}
