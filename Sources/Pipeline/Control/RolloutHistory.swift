import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One decision about a group's revision, as `<state_dir>/<pipeline>/history` keeps it: what
/// `runner log` shows after the rollout's state moved on (a held revision is no longer held
/// once a newer one is approved), and the audit trail of who let what go.
public struct RolloutEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The group's canaries applied the revision.
        case approved
        /// A canary refused it (or would not render it).
        case held
        /// More hosts than `max_failures` failed it.
        case halted
        /// It waits for an operator's approval.
        case waiting
        /// An operator let it go, dropped it, or cut it as a rollback (`by` says who).
        case approval, rejection, rollback
    }

    /// Wall-clock seconds since the epoch.
    public var time: Double
    public var kind: Kind
    public var group: String
    public var revision: Int
    public var why: String?
    /// The operator, for what an operator did.
    public var by: String?

    /// An event.
    public init(time: Double, kind: Kind, group: String, revision: Int, why: String? = nil, by: String? = nil) {
        self.time = time
        self.kind = kind
        self.group = group
        self.revision = revision
        self.why = why
        self.by = by
    }
}

/// The append-only file of a pipeline's `RolloutEvent`s, one JSON line each (a torn last
/// line, from a crash mid-write, is skipped when read). An event is one write(2) after the
/// decision: never between a change and its send.
public final class RolloutHistory {
    public let path: String
    private var file: Int32 = -1

    /// The history in the state directory `directory`, opened at the first append.
    public init(directory: String) { path = directory + "/history" }

    deinit { if file >= 0 { close(file) } }

    /// Appends `event`.
    public func append(_ event: RolloutEvent) throws(SystemError) {
        if file < 0 {
            file = open(path.cPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard file >= 0 else { throw SystemError("open", path: path) }
        }
        guard var line = try? JSONEncoder().encode(event) else {
            throw SystemError("encode a history line", path: path, code: nil)
        }
        line.append(10)
        let n = line.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
        guard n == line.count else { throw SystemError("write", path: path) }
    }

    /// Drops the events of revisions older than `revision` (collected ones) once the file
    /// is over 1 MiB: rewritten beside and renamed over.
    public func trim(before revision: Int) throws(SystemError) {
        guard let size = FileInfo.lstat(path)?.size, size > 1 << 20 else { return }
        let directory = String(path.dropLast("/history".count))
        var bytes: [UInt8] = []
        for event in Self.read(directory: directory) where event.revision >= revision {
            guard let line = try? JSONEncoder().encode(event) else { continue }
            bytes += line
            bytes.append(10)
        }
        try FileSystem.replace(path, with: bytes, temporary: path + ".tmp", mode: 0o600)
        if file >= 0 { close(file) }
        file = -1
    }

    /// Every whole line of the history in `directory`, oldest first (none when it has none).
    public static func read(directory: String) -> [RolloutEvent] {
        let path = directory + "/history"
        guard let file = try? FileDescriptor(opening: path, O_RDONLY | O_NOFOLLOW),
            let bytes = try? ContentStore.readAll(file.raw, limit: 256 << 20, shown: path)
        else { return [] }
        return bytes.split(separator: 10).compactMap { try? JSONDecoder().decode(RolloutEvent.self, from: Data($0)) }
    }
}
