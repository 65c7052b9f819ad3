import CLinux
import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// An operator's command to a running sender (`runner approve`, `reject`, `rollback`), one
/// JSON line on its control socket.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Command: String, Codable, Sendable { case approve, reject, rollback }

    public var command: Command
    public var group: String
    /// The revision to approve (nil: the one waiting) or to roll back to (nil with `last`).
    public var revision: Int?
    /// `rollback --last`: the revision the group had before its current one.
    public var last: Bool?
    /// Say what would be done, and do nothing.
    public var dryRun: Bool?

    /// A request.
    public init(command: Command, group: String, revision: Int? = nil, last: Bool? = nil, dryRun: Bool? = nil) {
        self.command = command
        self.group = group
        self.revision = revision
        self.last = last
        self.dryRun = dryRun
    }
}

/// The sender's answer to a `ControlRequest`.
public struct ControlReply: Codable, Sendable, Equatable {
    public var ok: Bool
    public var message: String
    /// The revision made or approved.
    public var revision: Int?
    /// What the command changes at the group's hosts (a rollback's `--dry-run`).
    public var diff: String?

    /// A reply.
    public init(ok: Bool, message: String, revision: Int? = nil, diff: String? = nil) {
        self.ok = ok
        self.message = message
        self.revision = revision
        self.diff = diff
    }
}

/// A running sender's control socket, `<state_dir>/<pipeline>/control.sock`: a Unix stream
/// socket of mode 0600 (only its owner, and root, can connect), whose peer's uid is checked
/// again (`SO_PEERCRED`) and handed to the command for the audit. Served on the run loop:
/// one request line, one reply line, then close. Never on the status address.
public final class ControlSocket {
    public let path: String
    /// The listening socket (non-blocking), polled by the run loop.
    public let descriptor: Int32
    private let inode: UInt64
    /// The longest request line.
    static let maxRequest = 64 << 10

    /// Listens at `path` (one left by a sender that died is replaced).
    public init(path: String) throws(SystemError) {
        self.path = path
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("bind the control socket (path too long for a Unix socket)", path: path, code: nil)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path: path) }
        unlink(path.cPath)
        // Made 0600 before anyone can connect: the umask covers the window of bind.
        let mask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(mask)
        guard bound == 0, chmod(path.cPath, 0o600) == 0, listen(fd, 16) == 0 else {
            let error = SystemError("listen on the control socket", path: path)
            close(fd)
            throw error
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        descriptor = fd
        inode = FileInfo.lstat(path)?.inode ?? 0
    }

    deinit {
        close(descriptor)
        // A reload's new socket may stand at the path by now: only ours is removed.
        if FileInfo.lstat(path)?.inode == inode { unlink(path.cPath) }
    }

    /// Answers every connection waiting: its request line (read within a second), with the
    /// peer's uid, through `answer`. A peer that is neither this process's user nor root is
    /// refused before its request is read.
    public func serve(_ answer: (ControlRequest, _ uid: uid_t) -> ControlReply) {
        while true {
            let client = accept4(descriptor, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            guard client >= 0 else { return }
            defer { close(client) }
            let peer = runner_peer_uid(client)
            guard peer >= 0 else { continue }
            let uid = uid_t(peer)
            let reply: ControlReply
            if uid != geteuid() && uid != 0 {
                reply = ControlReply(
                    ok: false, message: "refused: uid \(uid) is not the sender's user (uid \(geteuid()))")
            } else if let request = Self.readRequest(client) {
                reply = answer(request, uid)
            } else {
                reply = ControlReply(ok: false, message: "refused: no request line (one JSON object) within a second")
            }
            Self.writeLine(client, reply)
        }
    }

    private static func readRequest(_ fd: Int32) -> ControlRequest? {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !input.contains(10), input.count <= maxRequest {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            input += buffer[..<n]
        }
        guard let end = input.firstIndex(of: 10) else { return nil }
        return try? JSONDecoder().decode(ControlRequest.self, from: Data(input[..<end]))
    }

    static func writeLine<T: Encodable>(_ fd: Int32, _ value: T) {
        guard var line = try? JSONEncoder().encode(value) else { return }
        line.append(10)
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var done = 0
        while done < line.count {
            let n = line.withUnsafeBytes { send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            done += n
        }
    }
}
