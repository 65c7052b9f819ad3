import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What a pipeline remembers across restarts, in `<state_dir>/<pipeline>/state.json`: the
/// last revision (batch number) of its source, the revision each host applied, and what
/// each staged group approved. The snapshots and render caches beside it hold the content;
/// this holds the numbers. Written by temporary file and rename, without fsync: it is
/// saved twice per batch, and an fsync there (0.5 ms on ext4, and a journal commit the
/// batch's own renames then wait for) would double a change's latency; a file lost to a
/// power cut is a missing or unreadable file, which is a fresh start (every host then gets
/// a full resync, which sends only what differs).
struct DeliveryState: Codable, Equatable {
    var revision = 0
    /// Target URI → the last revision it applied.
    var applied: [String: Int] = [:]
    /// Group → the last revision its canaries approved.
    var approved: [String: Int] = [:]

    static func load(_ path: String) -> DeliveryState {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)),
            let state = try? JSONDecoder().decode(DeliveryState.self, from: data)
        else { return DeliveryState() }
        return state
    }

    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        let directory = String(path[..<path.lastIndex(of: "/")!])
        try FileSystem.makeDirectories(directory, mode: 0o700)
        let temporary = path + ".tmp"
        let file = try FileDescriptor(opening: temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let written = data.withUnsafeBytes { write(file.raw, $0.baseAddress, $0.count) }
        guard written == data.count else { throw SystemError("write", path: temporary) }
        guard rename(temporary, path) == 0 else { throw SystemError("rename", path: path) }
    }
}
