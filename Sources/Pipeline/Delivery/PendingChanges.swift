/// What a host has not received yet: the paths changed since its last good batch, with
/// what happened to each, or, past `limit` paths (or after a lost session), a full
/// resync. Memory stays bounded however long the host is away, and the host catches up
/// in one batch, never by a replay of events.
struct PendingChanges {
    /// More paths than this and the host gets a full resync instead.
    static let limit = 50_000

    private(set) var changes: [String: PathChange] = [:]
    private(set) var fullResync = false

    var isEmpty: Bool { changes.isEmpty && !fullResync }

    /// Adds a batch's changes (or all of them, when it is a full rescan).
    mutating func add(_ batch: ChangeBatch) {
        if batch.fullRescan { needFullResync() }
        guard !fullResync else { return }
        // Moves first: the deletion of their origin in the same batch must not hide it.
        for (path, change) in batch.changes where change.origin != nil { changes.record(path, change) }
        for (path, change) in batch.changes where change.origin == nil { changes.record(path, change) }
        if changes.count > PendingChanges.limit { needFullResync() }
    }

    /// Only a comparison of the whole tree brings the host up to date.
    mutating func needFullResync() {
        fullResync = true
        changes.removeAll()
    }

    /// Takes everything pending, as one batch.
    mutating func take() -> ChangeBatch {
        defer { self = PendingChanges() }
        return fullResync ? ChangeBatch(paths: [], fullRescan: true) : ChangeBatch(changes: changes)
    }
}
