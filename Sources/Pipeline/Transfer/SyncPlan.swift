import RunnerSystem

/// What a target needs so that it equals the source for a set of paths.
public struct SyncPlan: Sendable {
    /// One step of a plan. Paths are relative to the source and target roots.
    public enum Operation: Sendable, Equatable {
        /// Create (or fix the mode of) a directory.
        case directory(path: String, info: FileInfo)
        /// Send a regular file's content.
        case copy(path: String, info: FileInfo)
        /// Only the mode or times differ.
        case attributes(path: String, info: FileInfo)
        /// Create a symbolic link (kept as a link, never followed).
        case symlink(path: String, destination: String, info: FileInfo)
        /// Remove the path (recursively for a directory).
        case delete(path: String)
        /// The file the target has at `from` (moved in the source, content unchanged) is
        /// the new file: renamed there as part of the batch, not sent again.
        case link(path: String, from: String, info: FileInfo)

        /// The path the operation concerns.
        public var path: String {
            switch self {
            case .directory(let p, _), .copy(let p, _), .attributes(let p, _), .symlink(let p, _, _), .delete(let p),
                .link(let p, _, _):
                return p
            }
        }
    }

    /// Files to send whose basis on the target is another path (moved in the source, then
    /// edited): the target's copy at the moved-from path.
    public var bases: [String: String] = [:]

    /// The target's regular file each copy would be a delta against (at its own path, or
    /// at its base), as the plan saw it: a part of a plan is sent after the walk moved on.
    public var basisInfo: [String: FileInfo] = [:]

    /// The operations, in the order they are applied.
    public var operations: [Operation] = []
    /// Source entries that cannot be synced (devices, FIFOs, sockets).
    public var skipped: [String] = []
    /// Entries the filter dropped while walking, with the reason (for `--dry-run`).
    public var ignored: [(path: String, reason: String)] = []

    /// A plan.
    public init(operations: [Operation] = [], skipped: [String] = []) {
        self.operations = operations
        self.skipped = skipped
    }

    /// Adds a later part of the same plan.
    public mutating func append(_ part: SyncPlan) {
        operations += part.operations
        bases.merge(part.bases) { _, later in later }
        basisInfo.merge(part.basisInfo) { _, later in later }
        skipped += part.skipped
        ignored += part.ignored
    }

    /// Whether the target already matches.
    public var isEmpty: Bool { operations.isEmpty }
}
