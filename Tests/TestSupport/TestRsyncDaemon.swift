import Foundation

/// A real `rsync --daemon` on 127.0.0.1, configured as the seed's fleet runs it: module
/// `php_env`, `auth users`, a `secrets file` of `user:secret` lines (0600), `hosts allow`.
public final class TestRsyncDaemon: @unchecked Sendable {
    // @unchecked: as RunnerProcess.
    public let port: Int
    public let module: String
    private let process = Process()

    /// Starts it on a free port, serving `module` as `php_env` for user `sync` with `secret`.
    public init(directory: String, module: String, secret: String = "s3cret") async throws {
        self.module = module
        port = try freeLoopbackPort()
        let secrets = directory + "/rsyncd.secrets"
        try "sync:\(secret)\n".write(toFile: secrets, atomically: true, encoding: .utf8)
        chmod(secrets, 0o600)
        let config = directory + "/rsyncd.conf"
        // As root the daemon would drop to nobody: write as whoever runs the test.
        try """
        pid file = \(directory)/rsyncd.pid
        use chroot = no
        uid = \(getuid())
        gid = \(getgid())
        [php_env]
        path = \(module)
        read only = no
        auth users = sync
        secrets file = \(secrets)
        hosts allow = 127.0.0.1
        """.write(toFile: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/rsync")
        process.arguments = ["--daemon", "--no-detach", "--config=\(config)", "--address=127.0.0.1", "--port=\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let port = self.port
        guard await eventually(timeout: 10, { (try? RawConnection(port: port)) != nil }) else {
            throw POSIXError(.ECONNREFUSED)
        }
    }

    /// SIGKILL, and no wait: a deinit runs on one of the few threads every test shares, and
    /// a wait for an exit that is never reported (a child Foundation did not reap) would
    /// stop them all.
    deinit { kill(process.processIdentifier, SIGKILL) }
}
