/// Folds watch events into batches: one entry per path, cut after a quiet period without a
/// new event, or `maxDelay` after the first event of the batch.
///
/// Burst-aware: a lone change goes out after `delay`. A change that comes soon after the last
/// cut (within `burstWindow`) may be a tool writing one file after another: its batch waits
/// for the writer's pace (the gap between its last two changes) plus a `delay`, or twice its
/// pause since the cut if that is longer, at most `maxDelay`, so that the tool's next file
/// joins it. So an ansible run writing a file every 0.5 s (delay 0.2) makes two revisions, not
/// one per file, and reloads its receivers twice. A widened batch that no later change joined
/// shows a writer that waits for each change to arrive (a script): the quiet goes back to
/// `delay`, and is not widened again until a change comes after a longer pause, which is lone.
/// With `delay = 0` nothing is ever held back.
public struct Coalescer: Sendable {
    /// Seconds of quiet before a lone change is cut.
    public let delay: Double
    /// Seconds after the first event at which a batch is cut regardless; the longest quiet a
    /// burst earns.
    public let maxDelay: Double

    private var changes: [String: PathChange] = [:]
    private var ignored: [String: String] = [:]
    private var fullRescan = false
    private var firstEvent: Double?
    private var lastEvent: Double = 0
    /// The quiet period of the batch being gathered (of the last one, between batches).
    public private(set) var quiet: Double
    /// When the last batch was cut, and its last event.
    private var lastCut: Double?
    private var lastCutEvent: Double?
    /// Whether a batch soon after a cut may be widened (not after a widening nothing joined).
    private var widening = true

    /// A change this soon after a cut goes on a burst: four `delay`s, and at least 1.5 s (a
    /// tool's pace on a loaded machine); none with `delay = 0`.
    public var burstWindow: Double { delay > 0 ? max(4 * delay, 1.5) : 0 }

    /// A coalescer.
    public init(delay: Double, maxDelay: Double) {
        self.delay = max(0, delay)
        self.maxDelay = max(self.delay, maxDelay)
        quiet = self.delay
    }

    /// Adds a changed path (already filtered).
    public mutating func add(_ path: String, _ change: PathChange = .written, at now: Double) {
        changes.record(path, change)
        touch(now)
    }

    /// Adds a change that happened before those gathered already (a batch held back and
    /// offered again): what came since has the last word (held written, then deleted, is deleted).
    public mutating func addEarlier(_ path: String, _ change: PathChange, at now: Double) {
        changes[path] = changes[path].map { change.then($0) } ?? change
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
        if firstEvent == nil {
            firstEvent = now
            if let cut = lastCut, let last = lastCutEvent, now - cut < burstWindow {
                // A writer going on: wait for its next change, unless waiting did not help.
                quiet = widening ? min(maxDelay, max((now - last) + delay, 2 * (now - cut))) : delay
            } else {
                quiet = delay
                widening = true
            }
        } else if quiet > delay {
            // A widened batch follows its writer's pace: a pause twice its longest so far
            // ends it, so one slow step (a loaded machine) does not cut a run in two.
            quiet = min(maxDelay, max(quiet, 2 * (now - lastEvent)))
        }
        lastEvent = now
    }

    /// When the pending batch is due, or nil when nothing is pending.
    public var deadline: Double? {
        guard let first = firstEvent else { return nil }
        return min(lastEvent + quiet, first + maxDelay)
    }

    /// Cuts the batch if it is due.
    public mutating func cut(at now: Double) -> ChangeBatch? {
        guard let due = deadline, now >= due else { return nil }
        return cutNow(at: now)
    }

    /// Cuts whatever is pending now (for shutdown and tests).
    public mutating func cutNow(at now: Double? = nil) -> ChangeBatch? {
        guard firstEvent != nil else { return nil }
        var batch = ChangeBatch(
            changes: changes, ignored: ignored.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            fullRescan: fullRescan)
        batch.firstEvent = firstEvent
        changes.removeAll(keepingCapacity: true)
        ignored.removeAll(keepingCapacity: true)
        fullRescan = false
        // Widened, and no later change joined: the writer waits for us, not the other way.
        if quiet > delay && lastEvent == firstEvent { widening = false }
        firstEvent = nil
        lastCut = now ?? lastEvent
        lastCutEvent = lastEvent
        return batch
    }
}
