import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `runner approve`, `reject` and `rollback`: one request to a running sender's control
/// socket, and its reply.
public enum ControlClient {
    /// Why a request did not reach a sender.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `request` to the socket at `path`; waits at most `timeout` seconds for the reply.
    public static func send(_ request: ControlRequest, to path: String, timeout: Int = 30) throws(Failure)
        -> ControlReply
    {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "\(path): path too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let why = errno
            if why == ENOENT || why == ECONNREFUSED {
                throw Failure(description: "no sender of this pipeline is running (\(path) does not answer)")
            }
            throw Failure(description: "cannot reach the sender at \(path): \(String(cString: strerror(why)))")
        }
        ControlSocket.writeLine(fd, request)
        var wait = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !input.contains(10), input.count < 64 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            input += buffer[..<n]
        }
        guard let end = input.firstIndex(of: 10),
            let reply = try? JSONDecoder().decode(ControlReply.self, from: Data(input[..<end]))
        else { throw Failure(description: "the sender at \(path) gave no answer") }
        return reply
    }
}
