#if canImport(Glibc)
    import Glibc
#endif

/// A TCP socket listening on `host:port` (`[v6]:port`; port 0 takes a free one): the
/// receiver daemon's and the status address's. Accepted connections are close-on-exec.
public final class ListeningSocket: Sendable {
    /// The descriptor to poll.
    public let descriptor: Int32
    /// The address actually listened on, the port resolved when 0 was asked.
    public let address: String

    /// Why an address cannot be listened on.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Listens on `listen`; `nonBlocking` for a loop that must never wait in `accept`.
    public init(_ listen: String, nonBlocking: Bool = false) throws(Failure) {
        let parsed: SocketAddress
        do { parsed = try SocketAddress(listen) } catch { throw Failure(description: error.description) }
        let fd = socket(parsed.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        if fd >= 0 { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) }
        guard fd >= 0, parsed.withSockaddr({ bind(fd, $0, $1) }) == 0, Glibc.listen(fd, 4096) == 0 else {
            let e = SystemError.text()
            if fd >= 0 { close(fd) }
            throw Failure(description: "cannot listen on \(listen): \(e)")
        }
        if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        descriptor = fd
        address = ListeningSocket.localAddress(fd) ?? listen
    }

    deinit { close(descriptor) }

    /// A connection waiting to be accepted, with the peer's address; nil when none is.
    public func accept(nonBlocking: Bool = false) -> (descriptor: Int32, peer: String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(descriptor, $0, &length) }
        }
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        if nonBlocking { _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK) }
        return (client, ListeningSocket.text(of: &storage))
    }

    /// The numeric host of an address.
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
