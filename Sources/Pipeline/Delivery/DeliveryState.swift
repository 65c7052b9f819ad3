import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What a pipeline remembers across restarts, in `<state_dir>/<pipeline>/state.json`: the
/// last revision (batch number) of its source, the revision each host applied, and what
/// each staged group approved. The snapshots and render caches beside it hold the content;
/// this holds the numbers. Written by temporary file and rename, without fsync: an fsync
/// (0.5 ms on ext4, and a journal commit a batch's own renames then wait for) would cost
/// a busy pipeline a change's latency again; a file lost to a power cut is a missing or
/// unreadable file, which is a fresh start (every host then gets a full resync, which
/// sends only what differs).
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
        try FileSystem.replace(path, with: Array(data), temporary: path + ".tmp", mode: 0o600)
    }
}
