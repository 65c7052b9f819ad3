/// A batch the `check` hook held, to offer again, and when: after a backoff that doubles with each failure, up to 30 seconds,
/// and starts again at one second once a batch goes through.
struct RetrySchedule {
    private(set) var changes: [String: PathChange] = [:]
    private(set) var fullRescan = false
    /// When the retry is due; nil when nothing waits.
    private(set) var due: Double?
    private var backoff = 1.0

    var isEmpty: Bool { changes.isEmpty && !fullRescan }

    /// Schedules `batch`'s changes again.
    mutating func add(_ batch: ChangeBatch, fullRescan: Bool, now: Double) {
        for (path, change) in batch.changes { changes[path] = change }
        self.fullRescan = self.fullRescan || fullRescan
        due = now + backoff
        backoff = min(backoff * 2, 30)
    }

    /// Takes what is due, leaving nothing scheduled.
    mutating func take() -> (changes: [String: PathChange], fullRescan: Bool) {
        defer {
            changes.removeAll()
            fullRescan = false
            due = nil
        }
        return (changes, fullRescan)
    }

    /// A batch went through: the next failure waits one second again.
    mutating func succeeded() { backoff = 1.0 }
}
