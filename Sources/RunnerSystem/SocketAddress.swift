#if canImport(Glibc)
    import Glibc
#endif

/// A numeric TCP address, `host:port` or `[v6]:port`, as the socket calls take it.
public struct SocketAddress {
    private var v4 = sockaddr_in()
    private var v6 = sockaddr_in6()
    /// AF_INET or AF_INET6.
    public let family: Int32

    /// Why a text is not an address.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Parses `host:port`; the host must be an IP address (no name lookup).
    public init(_ text: String) throws(Failure) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw Failure(description: "'\(text)' is not host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
        } else {
            throw Failure(description: "'\(host)' in '\(text)' is not an IP address")
        }
    }

    /// Calls `body` with the address as `bind` and `connect` take it.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        if family == AF_INET {
            return withUnsafePointer(to: v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return withUnsafePointer(to: v6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
    }
}
