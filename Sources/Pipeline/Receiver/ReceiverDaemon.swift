import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `runner serve`: accepts TCP connections and serves each in a child process forked
/// for it, as rsync's daemon does. A session that crashes or is killed takes nothing
/// else with it, the blocking session code needs no event loop, and the child shares
/// the daemon's loaded configuration and code pages instead of starting afresh.
/// Forking is safe because the daemon is single-threaded (`RunControl` reads signals
/// from a signalfd; nothing else starts a thread).
public final class ReceiverDaemon {
    private let listenFD: Int32
    /// The address actually listened on (`host:port`, the port resolved when 0 was asked).
    public let address: String
    private let maxConnections: Int
    private let logger: Logger
    private var sessions: [pid_t: String] = [:]

    /// Listens on `listen` (`host:port`, `[v6]:port`).
    public init(listen: String, maxConnections: Int, logger: Logger) throws(ConfigError) {
        self.maxConnections = maxConnections
        self.logger = logger
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw ConfigError("listen '\(listen)' is not host:port")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        let fd: Int32
        let bound: Int32
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            (fd, bound) = ReceiverDaemon.bound(AF_INET, &v4)
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            (fd, bound) = ReceiverDaemon.bound(AF_INET6, &v6)
        } else {
            throw ConfigError("listen '\(listen)': '\(host)' is not an IP address")
        }
        guard fd >= 0, bound == 0, Glibc.listen(fd, 128) == 0 else {
            let e = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            throw ConfigError("cannot listen on \(listen): \(e)")
        }
        listenFD = fd
        address = ReceiverDaemon.localAddress(fd) ?? listen
    }

    deinit { close(listenFD) }

    /// A socket of the family bound to the address (sockaddr_in or sockaddr_in6): (fd, bind's result).
    private static func bound<Address>(_ family: Int32, _ address: inout Address) -> (Int32, Int32) {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (fd, -1) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
        return (fd, rc)
    }

    /// Accepts until a stop is requested, then ends the sessions still running.
    /// `refresh(reloadRequested)` runs in the daemon on SIGHUP (true) and before each
    /// session (false), so that a changed configuration reaches the next connection;
    /// `session(connection, peer)` runs in the forked child and returns its exit status.
    public func run(
        control: RunControl, refresh: (_ reloadRequested: Bool) -> Void,
        session: (_ connection: Int32, _ peer: String) -> Int32
    ) {
        logger.notice("listening on \(address)")
        while !control.isStopRequested {
            var fds = [
                pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: control.readDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 1000)
            reap()
            if control.isStopRequested { break }
            if control.takeReloadRequest() { refresh(true) }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &length) }
            }
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let peer = ReceiverDaemon.text(of: &storage)
            if sessions.count >= maxConnections {
                logger.warning(
                    "refused: too many connections", metadata: ["peer": "\(peer)", "limit": "\(maxConnections)"])
                ReceiverDaemon.refuse(client, "too many connections; try again later")
                close(client)
                continue
            }
            refresh(false)
            switch fork() {
            case 0:
                control.releaseInChild()
                close(listenFD)
                let status = session(client, peer)
                fflush(nil)
                _exit(status)
            case -1:
                logger.error(
                    "cannot start a session: fork: \(String(cString: strerror(errno)))", metadata: ["peer": "\(peer)"])
                ReceiverDaemon.refuse(client, "the receiver cannot start a session")
            case let pid:
                sessions[pid] = peer
            }
            close(client)
        }
        for pid in sessions.keys { kill(pid, SIGTERM) }
        for pid in sessions.keys {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        logger.notice("stopped")
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            sessions[pid] = nil
        }
    }

    /// An error frame, best effort, for a connection turned away before a session
    /// (SIGPIPE is ignored: a peer already gone is a failed write, nothing more).
    private static func refuse(_ fd: Int32, _ message: String) {
        let writer = FrameWriter(fd: fd, name: "peer")
        try? writer.send(.error(message))
        try? writer.flush()
    }

    private static func text(of storage: inout sockaddr_storage) -> String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if storage.ss_family == sa_family_t(AF_INET) {
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                    var a = p.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
                }
            }
        } else {
            withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    var a = p.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
                }
            }
        }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func localAddress(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        guard
            withUnsafeMutablePointer(
                to: &storage, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } })
                == 0
        else {
            return nil
        }
        let host = text(of: &storage)
        let port: UInt16 = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
