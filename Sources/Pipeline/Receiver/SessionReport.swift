import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// What a session of `runner serve` did, for the daemon's status and metrics, told as it
/// happens: sessions run in forked children, so the child writes one line of JSON per
/// record to a pipe (`connected`, each `batch`, `finish`) and the daemon reads them
/// (`records(in:)`) while the session goes on; the counts never die with the child.
/// A record carries what is new: the connection's fate once, then one batch each.
public final class SessionReport: Codable {
    /// How the connection ended up.
    public enum Connection: String, Codable, Sendable, CaseIterable {
        /// Handshake passed: a module was served.
        case accepted
        /// Turned away: the daemon was at `max_connections`.
        case busy
        /// Unknown module or address not allowed.
        case denied
        /// Wrong user or secret.
        case authFailed = "auth_failed"
        /// The handshake broke off (protocol error, timeout, peer gone).
        case failed
        /// Closed before a single byte: a monitoring probe's connect-and-close.
        case probe
    }

    /// One batch the session committed (or refused).
    public struct Batch: Codable, Sendable {
        /// `applied`, `unchanged`, `rolled_back` (by an action), `refused` or `failed` (the commit).
        public var result: String
        public var written = 0
        public var deleted = 0
        /// Wall-clock seconds since the epoch when it ended.
        public var at: Double
        public var actions: [Action] = []
    }

    /// One action run after a batch.
    public struct Action: Codable, Sendable {
        public var name: String
        /// `ok`, `failed`, `timed out`, `skipped`.
        public var outcome: String
        public var summary: String
        public var seconds: Double
    }

    /// The connection's fate, in the record that tells it; nil in the others.
    public var connection: Connection?
    public var module: String?
    public var peer: String
    public var batches: [Batch] = []
    /// Where the child writes its records (non-blocking: a daemon that does not read loses
    /// records rather than holding a session); nil for a record itself.
    private var fd: Int32?

    private enum CodingKeys: String, CodingKey { case connection, module, peer, batches }

    /// A record, or (with `fd`) a child's reporter for a connection from `peer`.
    public init(peer: String, connection: Connection? = nil, fd: Int32? = nil) {
        self.peer = peer
        self.connection = connection
        self.fd = fd
        if let fd { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    /// The connection's fate is known.
    func connected(_ fate: Connection, module: String? = nil) {
        guard connection == nil else { return }
        connection = fate
        self.module = module ?? self.module
        send(SessionReport(peer: peer, connection: fate), module: self.module)
    }

    /// A batch ended.
    func batch(_ result: String, written: Int = 0, deleted: Int = 0, actions: [ActionResult] = []) {
        let record = SessionReport(peer: peer)
        record.batches = [
            Batch(
                result: result, written: written, deleted: deleted, at: Date().timeIntervalSince1970,
                actions: actions.map {
                    Action(name: $0.name, outcome: $0.outcome.rawValue, summary: $0.summary, seconds: $0.seconds)
                })
        ]
        send(record, module: module)
    }

    /// The session is over: a handshake that never got anywhere counts as failed.
    public func finish() {
        if connection == nil { connected(.failed) }
    }

    private func send(_ record: SessionReport, module: String?) {
        record.module = module
        guard let fd, var line = try? JSONEncoder().encode(record) else { return }
        line.append(10)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// The whole records in `buffer` (lines), removed from it; a partial line stays.
    public static func records(in buffer: inout [UInt8]) -> [SessionReport] {
        var result: [SessionReport] = []
        while let end = buffer.firstIndex(of: 10) {
            if let record = try? JSONDecoder().decode(SessionReport.self, from: Data(buffer[..<end])) {
                result.append(record)
            }
            buffer.removeSubrange(...end)
        }
        return result
    }
}
