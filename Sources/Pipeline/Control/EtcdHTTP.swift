import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to an etcd member's JSON gateway (`/v3/...`, HTTP/1.1), every read and
/// write under the caller's deadline: a POST and its whole answer (Content-Length or
/// chunked), or a streaming answer read line by line (a watch). etcd answers a request it
/// cannot serve (no quorum) by hanging, so nothing here waits without a deadline.
final class EtcdHTTP {
    let endpoint: EtcdEndpoint
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Whether the answer's body is chunked; bytes left of the current chunk (or of the
    /// whole body, when not chunked); whether the body has ended.
    private var chunked = false
    private var chunkLeft = 0
    private var ended = false

    /// The largest answer read (a range of the whole log's keys stays far below).
    static let maxAnswer = 64 << 20

    init(_ endpoint: EtcdEndpoint, deadline: Double) throws(EtcdError) {
        self.endpoint = endpoint
        do {
            fd = try RemoteConnection.tcpConnect(
                host: endpoint.host, port: endpoint.port, timeout: max(0.05, deadline - MonotonicClock.now))
        } catch {
            throw EtcdError(endpoint, "connect", error.message)
        }
    }

    deinit { close(fd) }

    /// Sends `POST path` with a JSON body (or `GET` without one) and reads the answer's head;
    /// returns its status.
    func request(_ path: String, body: String?, deadline: Double) throws(EtcdError) -> Int {
        let bytes = Array(body?.utf8 ?? "".utf8)
        var head = "\(body == nil ? "GET" : "POST") \(path) HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\n"
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(bytes.count)\r\n" }
        head += "\r\n"
        try write(Array(head.utf8) + bytes, deadline: deadline)
        let status = try line(deadline: deadline)
        let parts = status.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else {
            throw EtcdError(endpoint, path, "not an HTTP answer: \(status.prefix(80))")
        }
        chunked = false
        var length: Int?
        while true {
            let header = try line(deadline: deadline)
            if header.isEmpty { break }
            let lower = header.lowercased()
            if lower.hasPrefix("transfer-encoding:") && lower.contains("chunked") { chunked = true }
            if lower.hasPrefix("content-length:") { length = Int(header.dropFirst(15).filter { $0 != " " }) }
        }
        chunkLeft = chunked ? 0 : (length ?? 0)
        ended = !chunked && (length ?? 0) == 0
        return code
    }

    /// The whole body of the answer.
    func body(deadline: Double) throws(EtcdError) -> [UInt8] {
        var out: [UInt8] = []
        while let piece = try next(deadline: deadline) {
            out += piece
            guard out.count <= Self.maxAnswer else { throw EtcdError(endpoint, "read", "an answer over 64 MiB") }
        }
        return out
    }

    /// The next line of a streaming body (a watch's results, one JSON document a line); nil
    /// at its end. Waits at most until `deadline` (an `EtcdError.timedOut` then).
    func streamLine(deadline: Double) throws(EtcdError) -> [UInt8]? {
        var out: [UInt8] = []
        while true {
            if let newline = pending.firstIndex(of: 10) {
                out += pending[..<newline]
                pending.removeSubrange(...newline)
                return out
            }
            out += pending
            pending = []
            guard out.count <= Self.maxAnswer else { throw EtcdError(endpoint, "read", "a line over 64 MiB") }
            guard let piece = try next(deadline: deadline) else { return out.isEmpty ? nil : out }
            pending = piece
        }
    }

    private var pending: [UInt8] = []

    /// The next bytes of the body, de-chunked; nil at its end.
    private func next(deadline: Double) throws(EtcdError) -> [UInt8]? {
        if ended { return nil }
        if chunked && chunkLeft == 0 {
            let size = try line(deadline: deadline)
            guard let n = Int(size.split(separator: ";").first ?? "", radix: 16), n >= 0 else {
                throw EtcdError(endpoint, "read", "a bad chunk size '\(size.prefix(20))'")
            }
            if n == 0 {
                ended = true
                return nil
            }
            chunkLeft = n + 2  // and its CRLF
        }
        if start == buffer.count { try fill(deadline: deadline) }
        let take = min(chunkLeft, buffer.count - start)
        // The CRLF after a chunk is no data.
        let data = chunked ? max(0, chunkLeft - 2) : chunkLeft
        let piece = Array(buffer[start..<(start + min(take, data))])
        start += take
        chunkLeft -= take
        if !chunked && chunkLeft == 0 { ended = true }
        return piece
    }

    /// A CRLF-terminated line of the head or of a chunk size.
    private func line(deadline: Double) throws(EtcdError) -> String {
        while true {
            if let end = buffer[start...].firstIndex(of: 10) {
                let text = buffer[start..<end].filter { $0 != 13 }
                start = end + 1
                return String(decoding: text, as: UTF8.self)
            }
            guard buffer.count - start < 16 << 10 else {
                throw EtcdError(endpoint, "read", "a header line over 16 KiB")
            }
            try fill(deadline: deadline)
        }
    }

    private func fill(deadline: Double) throws(EtcdError) {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        try wait(POLLIN, deadline: deadline)
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0 else { throw EtcdError(endpoint, "read", n == 0 ? "the member closed" : SystemError.text()) }
        buffer += chunk[..<n]
    }

    private func write(_ bytes: [UInt8], deadline: Double) throws(EtcdError) {
        var offset = 0
        while offset < bytes.count {
            try wait(POLLOUT, deadline: deadline)
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw EtcdError(endpoint, "write", SystemError.text())
            }
            offset += n
        }
    }

    private func wait(_ events: Int32, deadline: Double) throws(EtcdError) {
        while true {
            let left = deadline - MonotonicClock.now
            guard left > 0 else { throw EtcdError(endpoint, "wait", "no answer in time", timedOut: true) }
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let rc = poll(&p, 1, Int32((left * 1000).rounded(.up)))
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw EtcdError(endpoint, "poll", SystemError.text()) }
        }
    }
}
