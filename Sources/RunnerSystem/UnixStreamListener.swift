import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A Unix stream socket listening at a path, mode 0600 from its first moment (only its
/// owner, and root, can connect), non-blocking for a poll loop; each connection comes with
/// its peer's uid (`SO_PEERCRED`). The path is removed when the listener goes, unless
/// another listener took it meanwhile.
public final class UnixStreamListener {
    public let path: String
    public let descriptor: Int32
    private let inode: UInt64

    /// Listens at `path` (a socket left there by a process that died is replaced).
    public init(path: String) throws(SystemError) {
        var address = try Self.address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path: path) }
        unlink(path.cPath)
        // 0600 before anyone can connect: the umask covers the moment between bind and chmod.
        let mask = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(mask)
        guard bound == 0, chmod(path.cPath, 0o600) == 0, listen(fd, 16) == 0 else {
            let error = SystemError("listen", path: path)
            close(fd)
            throw error
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.path = path
        descriptor = fd
        inode = FileInfo.lstat(path)?.inode ?? 0
    }

    deinit {
        close(descriptor)
        if FileInfo.lstat(path)?.inode == inode { unlink(path.cPath) }
    }

    /// The next connection waiting (close-on-exec, blocking) and its peer's uid; nil when none waits.
    public func accept() -> (descriptor: Int32, uid: uid_t)? {
        while true {
            let client = accept4(descriptor, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            guard client >= 0 else { return nil }
            let uid = runner_peer_uid(client)
            guard uid >= 0 else {
                close(client)
                continue
            }
            return (client, uid_t(uid))
        }
    }

    /// A connection to the listener at `path`; the errno when it cannot be had.
    public static func connect(_ path: String) throws(SystemError) -> Int32 {
        var address = try Self.address(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", path: path) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let error = SystemError("connect", path: path)
            close(fd)
            throw error
        }
        return fd
    }

    private static func address(_ path: String) throws(SystemError) -> sockaddr_un {
        guard let address = sockaddr_un(bytes: Array(path.utf8)) else {
            throw SystemError("bind (a path too long for a Unix socket)", path: path, code: nil)
        }
        return address
    }
}
