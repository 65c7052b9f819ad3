import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Messages to systemd's journal as structured entries (its native protocol: one
/// datagram of `KEY=value` fields to /run/systemd/journal/socket), so that
/// `journalctl RUNNER_HOST=runner://web-f1:8730/fpm` finds a host's lines. Metadata becomes
/// `RUNNER_<KEY>` fields (`target` is `RUNNER_HOST`); a delivery's result carries a fixed
/// `MESSAGE_ID`. A message the socket refuses goes to stderr instead.
struct JournalLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private let socket: UnixDatagramSocket

    /// `MESSAGE_ID` of every delivery's result (`journalctl MESSAGE_ID=...` lists them all).
    static let batchResultID = "5e2b0c6f4a7d4b1c9e3f8a2d6c1b7e40"
    static let socketPath = "/run/systemd/journal/socket"
    /// `MESSAGE_ID` of each kind of audit line (`RUNNER_AUDIT`): a revision cut, a group's
    /// revision held at its canary or waiting for approval (a guard's trip among them), and
    /// what operators did.
    static let auditIDs = [
        "cut": "8d0f3c2a61b54e7f9a4c1e6b2d7f5a30", "held": "2c7e9b14f0a34d6b8e5f1a9c3d2b7e61",
        "waiting": "6a1d4f8e2b9c47a0b3e5d7c9f1a2b4c8", "approval": "b4e8c2a6d0f14b3e9c7a5d1f8e2b6c04",
        "rejection": "e1c5a9d3b7f24e6a8c0b2d4f6a8c1e3b", "rollback": "3f9b7d5c1e8a4c2b6d0f4a8e2c6b9d17",
    ]

    init(socket: UnixDatagramSocket) { self.socket = socket }

    /// A socket connected to the journal, or nil when there is none.
    static func connect() -> UnixDatagramSocket? {
        UnixDatagramSocket(path: socketPath, connect: true)
    }

    /// Whether stderr is the journal's stream (`$JOURNAL_STREAM` is its device:inode).
    static func stderrIsJournal(_ environment: [String: String]) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return stream == "\(st.st_dev):\(st.st_ino)"
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var fields: [(String, String)] = [
            ("MESSAGE", FileName.display("\(event.message)")), ("PRIORITY", "\(Self.priority(event.level))"),
            ("SYSLOG_IDENTIFIER", "runner"),
        ]
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            let name = key == "target" ? "HOST" : key.uppercased().filter { $0.isLetter || $0.isNumber || $0 == "_" }
            fields.append(("RUNNER_" + name, FileName.display("\(value)")))
        }
        if let kind = all["audit"].map({ "\($0)" }), let id = Self.auditIDs[kind] {
            fields.append(("MESSAGE_ID", id))
        } else if all["revision"] != nil && all["target"] != nil {
            fields.append(("MESSAGE_ID", Self.batchResultID))
        }
        var datagram: [UInt8] = []
        for (name, value) in fields {
            datagram += Array(name.utf8)
            if value.contains("\n") {
                // The binary form: name, newline, 64-bit little-endian length, the bytes.
                datagram.append(10)
                withUnsafeBytes(of: UInt64(value.utf8.count).littleEndian) { datagram += $0 }
                datagram += Array(value.utf8)
            } else {
                datagram.append(UInt8(ascii: "="))
                datagram += Array(value.utf8)
            }
            datagram.append(10)
        }
        if !socket.send(datagram) {
            Output.err("\(StderrLogHandler.timestamp()) \(event.level) \(event.message)\n")
        }
    }

    /// syslog priorities, as journalctl -p reads them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}
