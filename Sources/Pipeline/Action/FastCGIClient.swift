import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One FastCGI request (responder role, GET, no body) to a php-fpm pool, over TCP
/// (`host:port`) or a unix socket (a path): enough to see that a pool answers after a
/// reload, with no `cgi-fcgi` needed on the host. The record format is FastCGI 1.0's:
/// an 8-byte header (version, type, request id, content length, padding), content, padding.
struct FastCGIClient {
    enum RecordType: UInt8 {
        case beginRequest = 1, endRequest = 3, params = 4, stdin = 5, stdout = 6, stderr = 7
    }

    /// What the pool answered.
    struct Response {
        /// The CGI status (`Status:` header; 200 when absent).
        var status: Int
        /// The response body (after the headers).
        var body: String
        /// What the script wrote to stderr.
        var errors: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Longest response read: a check reads a few lines, not a page.
    static let responseLimit = 1 << 20

    let address: String

    /// Sends the request for `script` (SCRIPT_FILENAME and SCRIPT_NAME; a pool's
    /// `ping.path` answers "pong") and reads the whole answer before `deadline`.
    func request(script: String, deadline: Double) throws(Failure) -> Response {
        let fd = try connect(deadline: deadline)
        defer { close(fd) }
        var message: [UInt8] = []
        message += record(.beginRequest, [0, 1, 0, 0, 0, 0, 0, 0])  // role RESPONDER, no keep-alive
        var params: [UInt8] = []
        let name = script.hasPrefix("/") ? script : "/" + script
        for (k, v) in [
            ("SCRIPT_FILENAME", script), ("SCRIPT_NAME", name), ("REQUEST_URI", name), ("DOCUMENT_URI", name),
            ("REQUEST_METHOD", "GET"), ("QUERY_STRING", ""), ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("GATEWAY_INTERFACE", "CGI/1.1"), ("SERVER_SOFTWARE", "runner"), ("SERVER_NAME", "localhost"),
            ("REMOTE_ADDR", "127.0.0.1"), ("CONTENT_LENGTH", "0"),
        ] {
            params +=
                FastCGIClient.lengthBytes(k.utf8.count) + FastCGIClient.lengthBytes(v.utf8.count) + Array(k.utf8)
                + Array(v.utf8)
        }
        message += record(.params, params) + record(.params, []) + record(.stdin, [])
        try write(fd, message, deadline: deadline)

        return try FastCGIClient.readResponse { (count) throws(Failure) in try read(fd, count, deadline: deadline) }
    }

    /// Reads records (with `read`, which returns exactly the bytes asked for or throws)
    /// up to the END_REQUEST; a record never makes more than `responseLimit` be kept.
    static func readResponse(_ read: (Int) throws(Failure) -> [UInt8]) throws(Failure) -> Response {
        var out: [UInt8] = [], err: [UInt8] = []
        while true {
            let header = try read(8)
            guard header[0] == 1 else { throw Failure(description: "not a FastCGI answer (version \(header[0]))") }
            let length = Int(header[4]) << 8 | Int(header[5])
            let content = try read(length + Int(header[6])).prefix(length)
            switch RecordType(rawValue: header[1]) {
            case .stdout: out += content
            case .stderr: err += content
            case .endRequest:
                guard content.count >= 5, content[content.startIndex + 4] == 0 else {
                    throw Failure(
                        description:
                            "the pool refused the request (FastCGI protocol status \(content.count >= 5 ? content[content.startIndex + 4] : 255))"
                    )
                }
                return FastCGIClient.parse(out, errors: err)
            default: break
            }
            guard out.count + err.count <= FastCGIClient.responseLimit else {
                throw Failure(description: "answer over 1 MiB")
            }
        }
    }

    private func record(_ type: RecordType, _ content: [UInt8]) -> [UInt8] {
        [1, type.rawValue, 0, 1, UInt8(content.count >> 8), UInt8(content.count & 0xff), 0, 0] + content
    }

    private static func lengthBytes(_ n: Int) -> [UInt8] {
        n < 128
            ? [UInt8(n)]
            : [UInt8((n >> 24) & 0x7f) | 0x80, UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
    }

    private static func parse(_ out: [UInt8], errors: [UInt8]) -> Response {
        // Headers end at the first empty line (CRLF CRLF, or LF LF from a lax script).
        var split: (Int, Int)?
        for i in out.indices {
            if out[i...].starts(with: [13, 10, 13, 10]) { split = (i, i + 4); break }
            if out[i...].starts(with: [10, 10]) { split = (i, i + 2); break }
        }
        var status = 200
        var body = out[...]
        if let (end, start) = split {
            let headers = String(decoding: out[..<end], as: UTF8.self)
            for line in headers.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
            where line.lowercased().hasPrefix("status:") {
                status = Int(line.dropFirst(7).split(separator: " ").first ?? "") ?? status
            }
            body = out[start...]
        }
        return Response(
            status: status, body: String(decoding: body, as: UTF8.self), errors: String(decoding: errors, as: UTF8.self)
        )
    }

    private func connect(deadline: Double) throws(Failure) -> Int32 {
        let fd: Int32
        let rc: Int32
        if address.hasPrefix("/") {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard var sa = sockaddr_un(bytes: Array(address.utf8)) else {
                throw Failure(description: "socket path too long")
            }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        } else {
            guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...])
            else {
                throw Failure(description: "check_address '\(address)' is neither host:port nor a socket path")
            }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            var v4 = sockaddr_in(), v6 = sockaddr_in6()
            if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
                fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = port.bigEndian
                rc = withUnsafePointer(to: &v4) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
                fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = port.bigEndian
                rc = withUnsafePointer(to: &v6) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            } else {
                throw Failure(description: "check_address '\(address)': '\(host)' is not an IP address")
            }
        }
        guard rc == 0 else {
            let e = SystemError.text()
            close(fd)
            throw Failure(description: "connect to \(address): \(e)")
        }
        return fd
    }

    private func wait(_ fd: Int32, _ events: Int32, deadline: Double) throws(Failure) {
        var p = pollfd(fd: fd, events: Int16(events), revents: 0)
        let ms = Int32(max(0, (deadline - MonotonicClock.now) * 1000))
        guard poll(&p, 1, ms) == 1 else { throw Failure(description: "no answer from \(address) in time") }
    }

    private func write(_ fd: Int32, _ bytes: [UInt8], deadline: Double) throws(Failure) {
        var sent = 0
        while sent < bytes.count {
            try wait(fd, POLLOUT, deadline: deadline)
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "send to \(address): \(SystemError.text())") }
            sent += n
        }
    }

    private func read(_ fd: Int32, _ count: Int, deadline: Double) throws(Failure) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            try wait(fd, POLLIN, deadline: deadline)
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { throw Failure(description: "\(address) closed the connection mid-answer") }
            got += n
        }
        return out
    }
}
