#if canImport(Glibc)
    import Glibc
#endif

/// A datagram socket for messages to a unix socket path, as systemd's notify socket and
/// journal take them. A path starting with `@` is in the abstract namespace. Immutable
/// once made, so any thread may send (each datagram is one system call).
public final class UnixDatagramSocket: Sendable {
    private let descriptor: Int32
    private let address: sockaddr_un
    private let length: socklen_t
    private let connected: Bool

    /// A socket for `path`; nil when the path cannot be a unix socket address (relative, or
    /// too long), no socket can be made, or, with `connect`, nothing listens there (known
    /// now rather than at each send).
    public init?(path: String, connect: Bool = false) {
        var bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") || bytes.first == UInt8(ascii: "@") else { return nil }
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard var address = sockaddr_un(bytes: bytes) else { return nil }
        // The abstract name is exactly its bytes; a path also counts its terminating NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        if connect {
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
            }
            guard rc == 0 else {
                close(fd)
                return nil
            }
        }
        descriptor = fd
        self.address = address
        self.length = length
        connected = connect
    }

    deinit { close(descriptor) }

    /// Sends one datagram; false when it could not be.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var target = address
        let sent = bytes.withUnsafeBytes { raw in
            connected
                ? Glibc.send(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
                : withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, length)
                    }
                }
        }
        return sent == bytes.count
    }
}
