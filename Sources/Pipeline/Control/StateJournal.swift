import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where a rollout's state is remembered (`rollout.json`, and `rollout.journal` after it):
/// every change is appended as one line (the group or host it changed) before the machine's
/// next sends go out, so a sender killed at any moment restarts knowing every answer it had.
/// An append is one write(2), no rename and no fsync: cheap enough per answer; the journal is
/// folded into the snapshot (write and rename) every thousand lines and at a clean stop.
/// A power cut may lose the last lines: those hosts are then compared again, which sends
/// only what differs.
final class StateJournal {
    let snapshotPath: String
    let journalPath: String
    /// What the files say now.
    private(set) var written: RolloutState
    private var journal: Int32 = -1
    private var lines = 0

    /// One line: the head, a group or a host (`+Line`).
    struct Line: Codable, Equatable {
        var head: Int?
        var group: String?
        var groupState: RolloutState.Group?
        var host: String?
        var hostState: RolloutState.Host?
    }

    /// Opens the state in `directory`, reading what it holds.
    init(directory: String) {
        snapshotPath = directory + "/rollout.json"
        journalPath = directory + "/rollout.journal"
        var state =
            Self.read(snapshotPath).flatMap { try? JSONDecoder().decode(RolloutState.self, from: $0) }
            ?? RolloutState()
        if let data = Self.read(journalPath) {
            // A torn last line (a crash mid-write) is dropped; every whole one applies in order.
            for raw in data.split(separator: 10) {
                guard let line = try? JSONDecoder().decode(Line.self, from: Data(raw)) else { continue }
                if let head = line.head { state.head = max(state.head, head) }
                if let name = line.group, let g = line.groupState { state.groups[name] = g }
                if let uri = line.host, let h = line.hostState { state.hosts[uri] = h }
            }
        }
        written = state
    }

    deinit { if journal >= 0 { close(journal) } }

    /// Whether anything was remembered before.
    var isEmpty: Bool { written == RolloutState() }

    /// Appends what changed since the last save.
    func save(_ state: RolloutState) throws(SystemError) {
        guard state != written else { return }
        try save(state, hostsOnly: false)
    }

    /// Appends what changed in the head, the groups and the hosts `partial` holds, when no
    /// other host changed since the last save: a fleet's answers cost each its own host,
    /// not the fleet.
    func save(changedHosts partial: RolloutState) throws(SystemError) {
        try save(partial, hostsOnly: true)
    }

    private func save(_ state: RolloutState, hostsOnly: Bool) throws(SystemError) {
        var out: [UInt8] = []
        func add(_ line: Line) {
            out += line.json
            out.append(10)
            lines += 1
        }
        // Each line stands alone: they apply in any order.
        if state.head != written.head { add(Line(head: state.head)) }
        for (name, g) in state.groups where written.groups[name] != g { add(Line(group: name, groupState: g)) }
        for (uri, h) in state.hosts where written.hosts[uri] != h { add(Line(host: uri, hostState: h)) }
        guard !out.isEmpty else { return }
        // What the files will say: the partial state over the rest, changed in place (a copy
        // would cost the fleet again).
        func remember() {
            guard hostsOnly else { return written = state }
            written.head = state.head
            written.groups = state.groups
            for (uri, h) in state.hosts { written.hosts[uri] = h }
        }
        if lines > 1000 {
            let before = written
            remember()
            do { return try compact(written) } catch {
                written = before
                throw error
            }
        }
        if journal < 0 {
            journal = open(journalPath.cPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard journal >= 0 else { throw SystemError("open", path: journalPath) }
        }
        let n = out.withUnsafeBytes { write(journal, $0.baseAddress, $0.count) }
        guard n == out.count else { throw SystemError("write", path: journalPath) }
        remember()
    }

    /// Writes the whole state as the snapshot and starts an empty journal.
    func compact(_ state: RolloutState) throws(SystemError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(state) else {
            throw SystemError("encode the rollout state", path: snapshotPath, code: nil)
        }
        try FileSystem.replace(snapshotPath, with: Array(data), temporary: snapshotPath + ".tmp", mode: 0o600)
        if journal >= 0 { close(journal) }
        journal = -1
        unlink(journalPath)
        lines = 0
        written = state
    }

    private static func read(_ path: String) -> Data? {
        guard let file = try? FileDescriptor(opening: path, O_RDONLY | O_NOFOLLOW),
            let bytes = try? ContentStore.readAll(file.raw, limit: 256 << 20, shown: path)
        else { return nil }
        return Data(bytes)
    }
}
