import Foundation

/// A real php-fpm (Debian's php-fpm package) for the action tests, started by
/// scripts/test-phpfpm.sh with its own config, pid file, log and pool directory in a
/// temp dir, its pool on a free 127.0.0.1 port; `stop()` ends it.
public final class TestPhpFpm: @unchecked Sendable {
    // @unchecked: immutable after init; the owning test calls stop() once.
    public let directory: String
    public let port: Int
    public let binary: String

    public init(directory: String) throws {
        self.directory = directory
        port = try freeLoopbackPort()
        let r = try sh("bash \(RunnerProcess.packageRoot)/scripts/test-phpfpm.sh \(directory) \(port)", in: "/")
        guard r.status == 0, let bin = r.output.split(separator: "\n").last.map(String.init) else {
            throw CocoaError(
                .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "php-fpm did not start: \(r.output)"])
        }
        binary = bin
    }

    public var pidfile: String { directory + "/php-fpm.pid" }
    public var pools: String { directory + "/pool.d" }
    public var envScript: String { directory + "/www/env.php" }

    /// The master's pid, when it is alive.
    public var masterPID: Int32? {
        guard let text = try? String(contentsOfFile: pidfile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0
        else { return nil }
        return pid
    }

    /// How many USR2 reloads php-fpm logged.
    public var reloads: Int {
        ((try? String(contentsOfFile: directory + "/php-fpm.log", encoding: .utf8)) ?? "").components(
            separatedBy: "Reloading in progress"
        ).count - 1
    }

    /// The body of a FastCGI request for `script`, through `cgi-fcgi` (libfcgi-bin): an
    /// independent client, not ours.
    public func request(_ script: String) -> String? {
        guard
            let r = try? sh(
                "SCRIPT_FILENAME=\(script) SCRIPT_NAME=/x REQUEST_METHOD=GET cgi-fcgi -bind -connect 127.0.0.1:\(port)",
                in: "/"),
            r.status == 0, let blank = r.output.range(of: "\r\n\r\n")
        else { return nil }
        return String(r.output[blank.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The receiver module's on_sync entry for this php-fpm.
    public func reloadAction(extra: String = "") -> String {
        """
        phpfpm.reload { pidfile = "\(pidfile)", check_address = "127.0.0.1:\(port)", check_script = "\(envScript)", args = { "-R" }, \(extra) }
        """
    }

    public func stop() {
        if let pid = masterPID { kill(pid, SIGQUIT) }
    }

    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
    return Int(UInt16(bigEndian: addr.sin_port))
}
