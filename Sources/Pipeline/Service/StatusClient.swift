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
        let parsed: SocketAddress
        do { parsed = try SocketAddress(address) } catch { throw Failure(description: error.description) }
        let fd = socket(parsed.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(SystemError.text())") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard parsed.withSockaddr({ connect(fd, $0, $1) }) == 0 else {
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
