import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// What one session of `runner serve` did, for the daemon's status and metrics. Sessions
/// run in forked children, so the child writes this to a pipe as it ends (`send(to:)`)
/// and the daemon reads it (`read(from:)`); without that the counts would die with it.
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
    }

    /// One batch the session committed (or refused).
    public struct Batch: Codable, Sendable {
        /// `applied`, `unchanged`, `rolled_back` (by an action) or `failed` (the commit).
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

    public var connection = Connection.failed
    public var module: String?
    public var peer: String
    public var batches: [Batch] = []

    /// An empty report for a connection from `peer`.
    public init(peer: String, connection: Connection = .failed) {
        self.peer = peer
        self.connection = connection
    }

    /// Records a batch's end.
    func batch(_ result: String, written: Int = 0, deleted: Int = 0, actions: [ActionResult] = []) {
        batches.append(
            Batch(
                result: result, written: written, deleted: deleted, at: Date().timeIntervalSince1970,
                actions: actions.map {
                    Action(name: $0.name, outcome: $0.outcome.rawValue, summary: $0.summary, seconds: $0.seconds)
                }))
    }

    /// The most a report may take on the pipe; a longer one keeps its last batches.
    static let maxBytes = 60_000

    /// Writes the report to `fd` (the child's end of the pipe), whole or not at all.
    public func send(to fd: Int32) {
        guard var bytes = try? JSONEncoder().encode(self) else { return }
        while bytes.count > SessionReport.maxBytes, batches.count > 1 {
            batches.removeFirst(batches.count / 2)
            guard let shorter = try? JSONEncoder().encode(self) else { return }
            bytes = shorter
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// A report read from the daemon's end of the pipe; nil when the child wrote none (it crashed).
    public static func decode(_ bytes: [UInt8]) -> SessionReport? {
        try? JSONDecoder().decode(SessionReport.self, from: Data(bytes))
    }
}
