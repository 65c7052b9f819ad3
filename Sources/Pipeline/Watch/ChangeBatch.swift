/// A coalesced set of changed paths, cut after `delay` of quiet (or at `maxDelay`).
///
/// A batch is a set of paths, not a log of events: each path appears once and the
/// transfer looks at the source as it is now to decide what to send. That keeps the
/// pending state bounded by the tree, and makes replaying a batch harmless.
public struct ChangeBatch: Sendable, Equatable {
    /// Changed paths, relative to the source root, sorted.
    public var paths: [String]
    /// Paths the filter dropped, with the reason (kept for `--dry-run` only).
    public var ignored: [(path: String, reason: String)]
    /// The whole tree must be compared (overflow, first sync).
    public var fullRescan: Bool

    /// A batch.
    public init(paths: [String], ignored: [(path: String, reason: String)] = [], fullRescan: Bool = false) {
        self.paths = paths
        self.ignored = ignored
        self.fullRescan = fullRescan
    }

    public static func == (a: ChangeBatch, b: ChangeBatch) -> Bool {
        a.paths == b.paths && a.fullRescan == b.fullRescan && a.ignored.map(\.path) == b.ignored.map(\.path)
    }

    /// Whether there is nothing to do.
    public var isEmpty: Bool { paths.isEmpty && !fullRescan && ignored.isEmpty }
}
