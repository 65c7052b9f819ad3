import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The status address: a small HTTP/1.1 server run from the service's poll loop, never
/// blocking it. GET and HEAD only; a request of at most 8 KiB that must arrive within
/// 2 s; at most 16 connections at once; one response per connection, then close.
public final class StatusServer {
    /// An answer to a request.
    public struct Response {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int = 200, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = Array(body.utf8)
        }
    }

    private struct Connection {
        let fd: Int32
        let peer: String
        let deadline: Double
        var input: [UInt8] = []
        var output: [UInt8]?
        var written = 0
    }

    private let listener: ListeningSocket
    private let respond: (_ path: String) -> Response
    private var connections: [Connection] = []
    /// Connections shed or turned away, said once per interval with a count (`said`).
    private var refusals = RefusalTally()
    private let said: (String) -> Void
    static let maxRequest = 8192
    static let maxConnections = 16
    /// Connections of one address that have sent nothing yet.
    static let idlePerAddress = 4
    static let readTimeout = 2.0
    static let reasons = [
        200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
        431: "Request Header Fields Too Large", 503: "Service Unavailable",
    ]

    /// The address listened on, the port resolved.
    public var address: String { listener.address }

    /// Listens on `address` (`host:port`; a bare port means 127.0.0.1); `respond` answers a
    /// GET of a path; `said` hears the lines that sum up connections shed under a flood.
    public init(
        address: String, said: @escaping (String) -> Void = { _ in },
        respond: @escaping (_ path: String) -> Response
    ) throws(ListeningSocket.Failure) {
        let full = address.contains(":") ? address : "127.0.0.1:\(address)"
        listener = try ListeningSocket(full, nonBlocking: true)
        self.respond = respond
        self.said = said
    }

    deinit { for c in connections { close(c.fd) } }

    /// What to poll: the listener, each connection for its next step.
    var pollRequests: [pollfd] {
        var fds = [pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)]
        for c in connections {
            fds.append(pollfd(fd: c.fd, events: Int16(c.output == nil ? POLLIN : POLLOUT), revents: 0))
        }
        return fds
    }

    /// When the oldest connection times out.
    var deadline: Double? { connections.map(\.deadline).min() }

    /// Serves what the poll found ready, and drops connections past their deadline.
    func serve(_ polled: [pollfd], now: Double) {
        let ready = Set(polled.filter { $0.revents != 0 }.map(\.fd))
        if ready.contains(listener.descriptor) {
            // Every connection is taken: idle ones (nothing sent yet) never keep a probe
            // waiting. Past a few idle ones of its address, or a full house, the oldest idle
            // one (of that address, else of any) gives its place to the newcomer, which a
            // probe uses at once; only a house full of requests under way turns it away.
            while let (fd, peer) = listener.accept(nonBlocking: true) {
                let idle = connections.indices.filter { connections[$0].input.isEmpty && connections[$0].output == nil }
                let theirs = idle.filter { connections[$0].peer == peer }
                let victim =
                    theirs.count >= StatusServer.idlePerAddress
                    ? theirs.first
                    : connections.count >= StatusServer.maxConnections ? idle.first : nil
                if let victim {
                    let shed = connections.remove(at: victim)
                    close(shed.fd)
                    tell(refusals.refused("idle, its place given to a newer one", address: shed.peer, now: now))
                }
                guard connections.count < StatusServer.maxConnections else {
                    close(fd)
                    tell(refusals.refused("every place busy with a request", address: peer, now: now))
                    continue
                }
                connections.append(Connection(fd: fd, peer: peer, deadline: now + StatusServer.readTimeout))
            }
        }
        tell(refusals.flush(now: now))
        connections = connections.compactMap { c in
            var c = c
            let open = now < c.deadline && (!ready.contains(c.fd) || step(&c))
            if !open { close(c.fd) }
            return open ? c : nil
        }
    }

    private func tell(_ line: String?) { if let line { said("status address: \(line)") } }

    /// Reads or writes what the connection is ready for; false once it is done.
    private func step(_ c: inout Connection) -> Bool {
        if let output = c.output {
            let n = output[c.written...].withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { return errno == EAGAIN || errno == EINTR }
            c.written += n
            return c.written < output.count
        }
        var chunk = [UInt8](repeating: 0, count: 2048)
        let n = read(c.fd, &chunk, chunk.count)
        if n < 0 { return errno == EAGAIN || errno == EINTR }
        if n == 0 { return false }
        c.input += chunk[..<n]
        if let end = headerEnd(c.input) {
            c.output = answer(Array(c.input[..<end]))
        } else if c.input.count >= StatusServer.maxRequest {
            c.output = encode(
                Response(status: 431, contentType: "text/plain", body: "request too large\n"), head: false)
        }
        return true
    }

    private func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4)
        where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// The response to a request head.
    private func answer(_ head: [UInt8]) -> [UInt8] {
        let line = String(decoding: head.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        guard line.count == 3, line[2].hasPrefix("HTTP/1.") else {
            return encode(Response(status: 400, contentType: "text/plain", body: "bad request\n"), head: false)
        }
        guard line[0] == "GET" || line[0] == "HEAD" else {
            return encode(Response(status: 405, contentType: "text/plain", body: "GET only\n"), head: false)
        }
        let path = String(line[1].prefix { $0 != "?" })
        return encode(respond(path), head: line[0] == "HEAD")
    }

    private func encode(_ r: Response, head: Bool) -> [UInt8] {
        let text = """
            HTTP/1.1 \(r.status) \(Self.reasons[r.status] ?? "Status")\r
            Content-Type: \(r.contentType)\r
            Content-Length: \(r.body.count)\r
            Cache-Control: no-store\r
            Connection: close\r
            \r

            """
        return Array(text.utf8) + (head ? [] : r.body)
    }
}
