/// Where a pipeline's batches go: a directory on this host (`LocalTarget`, `file://`) or
/// a receiver (`RemoteTarget`, `runner://` and `ssh://`). A batch is planned against
/// what the target has, then applied as one atomic batch.
public protocol SyncTarget: AnyObject {
    /// The target, as logs and hooks name it.
    var uri: TargetURI { get }
    /// Plans what the target needs so that `paths` (the whole tree for nil) equal the source;
    /// `moves` (to → from) lets a target rename what it has rather than receive it again.
    func plan(paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool) throws
        -> SyncPlan
    /// Applies the plan last made, as one batch; `cancelled` is asked before the commit.
    func apply(_ plan: SyncPlan, from source: any SourceTree, cancelled: () -> Bool) throws -> SyncOutcome
    /// Plans and applies in one pass, as one batch: a target that can takes the plan part
    /// by part as the walk goes (`SyncPlanner.partSize` operations at a time), so that a
    /// first sync of a million files holds a part, not the tree.
    func sync(
        paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool,
        cancelled: () -> Bool
    ) throws -> SyncOutcome
    /// What runs at the target after each batch, one line each (for `--dry-run`).
    func describeActions() throws -> [String]
    /// The target's content of these files, for `--dry-run`'s diffs.
    func read(_ paths: [String]) throws -> [TargetFileContent]
    /// Ends the session with the target, if there is one.
    func disconnect()
}

extension SyncTarget {
    /// Plans whole, then applies.
    public func sync(
        paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool,
        cancelled: () -> Bool
    ) throws -> SyncOutcome {
        let plan = try self.plan(paths: paths, moves: moves, source: source, filter: filter, delete: delete)
        var outcome = try apply(plan, from: source, cancelled: cancelled)
        outcome.skipped = plan.skipped
        return outcome
    }
}
