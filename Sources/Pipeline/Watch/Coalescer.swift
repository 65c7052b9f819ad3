/// Folds watch events into batches: one entry per path, cut after `delay` seconds
/// without a new event, or `maxDelay` after the first event of the batch.
public struct Coalescer: Sendable {
    /// Seconds of quiet before a batch is cut.
    public let delay: Double
    /// Seconds after the first event at which the batch is cut regardless.
    public let maxDelay: Double

    private var changes: [String: PathChange] = [:]
    private var ignored: [String: String] = [:]
    private var fullRescan = false
    private var firstEvent: Double?
    private var lastEvent: Double = 0

    /// A coalescer.
    public init(delay: Double, maxDelay: Double) {
        self.delay = max(0, delay)
        self.maxDelay = max(self.delay, maxDelay)
    }

    /// Adds a changed path (already filtered).
    public mutating func add(_ path: String, _ change: PathChange = .written, at now: Double) {
        changes.record(path, change)
        touch(now)
    }

    /// Records an ignored path. It starts or extends a batch only when `startsBatch`
    /// (in `--dry-run`, to show filters at work); otherwise noise never causes a batch.
    public mutating func addIgnored(_ path: String, reason: String, at now: Double, startsBatch: Bool) {
        ignored[path] = reason
        if startsBatch { touch(now) }
    }

    /// Everything must be rescanned.
    public mutating func addRescan(at now: Double) {
        fullRescan = true
        touch(now)
    }

    /// Extends the pending batch's quiet period without adding a path (a write in progress).
    public mutating func touch(at now: Double) {
        if firstEvent != nil { lastEvent = now }
    }

    private mutating func touch(_ now: Double) {
        if firstEvent == nil { firstEvent = now }
        lastEvent = now
    }

    /// When the pending batch is due, or nil when nothing is pending.
    public var deadline: Double? {
        guard let first = firstEvent else { return nil }
        return min(lastEvent + delay, first + maxDelay)
    }

    /// Cuts the batch if it is due.
    public mutating func cut(at now: Double) -> ChangeBatch? {
        guard let due = deadline, now >= due else { return nil }
        return cutNow()
    }

    /// Cuts whatever is pending now (for shutdown and tests).
    public mutating func cutNow() -> ChangeBatch? {
        guard firstEvent != nil else { return nil }
        var batch = ChangeBatch(
            changes: changes, ignored: ignored.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            fullRescan: fullRescan)
        batch.firstEvent = firstEvent
        changes.removeAll(keepingCapacity: true)
        ignored.removeAll(keepingCapacity: true)
        fullRescan = false
        firstEvent = nil
        return batch
    }
}
