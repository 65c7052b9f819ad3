import Foundation

/// Runs a shell script with real tools (`sed -i`, `rsync`, `git`, `tar`, ...) and
/// returns its exit status and combined output. Spawned and reaped here (`freshSpawn`,
/// waitpid): a wait on a `Process` whose exit is never noticed blocks one of the few
/// threads every test shares.
@discardableResult
public func sh(_ script: String, in directory: String) throws -> (status: Int32, output: String) {
    var pipe: [Int32] = [0, 0]
    guard Foundation.pipe(&pipe) == 0 else { throw POSIXError(.EMFILE) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipe[0])
    // Nothing else of the test process goes with it (other tests' files and sockets: a
    // script that runs under `ulimit -n` must find its descriptors free).
    _ = closeFrom(&actions, 3)
    // A `runner` started here keeps its state in the test's directory, never the machine's.
    var environment = ProcessInfo.processInfo.environment
    environment["XDG_STATE_HOME"] = directory + "/state"
    environment["RUNNER_SH_DIRECTORY"] = directory
    let arguments: [String] = ["/bin/sh", "-c", "set -e\ncd \"$RUNNER_SH_DIRECTORY\"\n" + script]
    let spawned: pid_t
    do { spawned = try freshSpawn("/bin/sh", arguments, environment: environment, actions: &actions) } catch {
        close(pipe[0])
        close(pipe[1])
        throw error
    }
    close(pipe[1])
    defer { close(pipe[0]) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(pipe[0], &chunk, chunk.count)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { break }
        output += chunk[..<n]
    }
    var raw: Int32 = 0
    while waitpid(spawned, &raw, 0) < 0 && errno == EINTR {}
    // WEXITSTATUS, or 128 + the signal, as a shell says it.
    let status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    return (status, String(decoding: output, as: UTF8.self))
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which its header shows only
/// under _GNU_SOURCE.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
