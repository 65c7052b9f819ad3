import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `runner status`'s side of the status address: one GET, with a deadline.
public enum StatusClient {
    /// Why the status could not be had.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// GETs `path` from `address` (`host:port`, an IP address): the HTTP status and body.
    public static func get(_ path: String, from address: String, timeout: Double = 5) throws(Failure)
        -> (status: Int, body: [UInt8])
    {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw Failure(description: "'\(address)' is not host:port")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
        } else {
            throw Failure(description: "'\(host)' is not an IP address")
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(SystemError.text())") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc =
            family == AF_INET
            ? withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            : withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        guard rc == 0 else {
            throw Failure(
                description:
                    "cannot reach the status at \(address): \(SystemError.text()) (is runner running, with settings { status = ... }?)"
            )
        }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw Failure(description: "cannot ask \(address): \(SystemError.text())")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while response.count < 64 << 20 {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Failure(description: "reading from \(address): \(SystemError.text())") }
            if n == 0 { break }
            response += chunk[..<n]
        }
        guard let split = (0..<max(0, response.count - 3)).first(where: { response[$0..<$0 + 4] == [13, 10, 13, 10] }),
            let status = String(decoding: response[..<split], as: UTF8.self).split(separator: " ").dropFirst().first
                .flatMap({ Int($0) })
        else {
            throw Failure(description: "\(address) did not answer in HTTP")
        }
        return (status, Array(response[(split + 4)...]))
    }
}
