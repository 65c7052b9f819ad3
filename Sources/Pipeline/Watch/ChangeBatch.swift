/// A coalesced set of changed paths, cut after `delay` of quiet (or at `maxDelay`).
///
/// A batch is a set of paths, not a log of events: each path appears once, with what
/// happened to it, and the transfer looks at the source as it is now to decide what to
/// send. That keeps the pending state bounded by the tree, and makes replaying a batch
/// harmless.
public struct ChangeBatch: Sendable, Equatable {
    /// Changed paths, relative to the source root, and what happened to each.
    public var changes: [String: PathChange]
    /// The changed paths, sorted.
    public var paths: [String] { changes.keys.sorted() }
    /// Paths the filter dropped, with the reason (kept for `--dry-run` only).
    public var ignored: [(path: String, reason: String)]
    /// The whole tree must be compared (overflow, first sync).
    public var fullRescan: Bool
    /// When (monotonic) its first event was seen, for the propagation time.
    public var firstEvent: Double?

    /// A batch.
    public init(changes: [String: PathChange], ignored: [(path: String, reason: String)] = [], fullRescan: Bool = false)
    {
        self.changes = changes
        self.ignored = ignored
        self.fullRescan = fullRescan
    }

    /// A batch of written paths.
    public init(paths: [String], fullRescan: Bool = false) {
        self.init(
            changes: Dictionary(paths.map { ($0, .written) }, uniquingKeysWith: { a, _ in a }), fullRescan: fullRescan)
    }

    public static func == (a: ChangeBatch, b: ChangeBatch) -> Bool {
        a.changes == b.changes && a.fullRescan == b.fullRescan && a.ignored.map(\.path) == b.ignored.map(\.path)
    }

    /// Paths moved within the source, to where they came from.
    public var moves: [String: String] {
        changes.compactMapValues(\.origin)
    }

    /// Whether there is nothing to do.
    public var isEmpty: Bool { changes.isEmpty && !fullRescan && ignored.isEmpty }
}
