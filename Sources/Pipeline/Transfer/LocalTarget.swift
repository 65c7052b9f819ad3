import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A `file://` target: a directory on this host, updated one batch at a time.
///
/// A batch is staged beside the target (same file system, outside the tree) and
/// committed by a `BatchApplier` (journal, renames, rollback): readers see each file
/// old or new, and after a crash the next `LocalTarget` for the directory puts the
/// old tree back before anything else.
public final class LocalTarget: SyncTarget {
    /// The target directory, absolute.
    public let root: String
    private let staging: StagingArea
    /// Operations per part of a plan staged as the walk goes.
    var partSize = SyncPlanner.partSize
    /// Where batches are staged before they are renamed into place.
    public var stagingRoot: String { staging.path }

    /// A local target. An interrupted batch found in staging is rolled back first,
    /// unless `recover` is false (`--dry-run` touches nothing).
    public init(root: String, recover: Bool = true, durable: Bool = false) throws(TransferError) {
        self.root = root
        staging = try StagingArea(tree: root, durable: durable, recover: recover)
    }

    public var uri: TargetURI { .file(path: root) }

    public func plan(paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool)
        throws -> SyncPlan
    {
        var planner = SyncPlanner(source: source, target: root, filter: filter, delete: delete)
        planner.moves = moves
        return try planner.plan(paths: paths)
    }

    public func describeActions() throws -> [String] { [] }

    public func read(_ paths: [String]) throws -> [TargetFileContent] {
        paths.map { path in
            let full = FileSystem.join(root, path)
            guard let info = FileInfo.lstat(full), info.kind == .file else { return .absent }
            guard info.size <= TargetFileContent.limit else { return .tooLarge }
            return FileManager.default.contents(atPath: full).map { .bytes(Array($0)) } ?? .absent
        }
    }

    public func disconnect() { staging.close() }

    /// Plans and applies as one batch, staging each part of the plan as the walk makes it.
    public func sync(
        paths: [String]?, moves: [String: String], source: any SourceTree, filter: Filter, delete: Bool,
        cancelled: () -> Bool
    ) throws -> SyncOutcome {
        var planner = SyncPlanner(source: source, target: root, filter: filter, delete: delete)
        planner.moves = moves
        return try applyParts(from: source, cancelled: cancelled) { stage in
            try planner.plan(paths: paths, partSize: partSize, stage)
        }
    }

    /// Applies a plan as one batch. `cancelled` is asked before the commit: a
    /// cancelled batch leaves the target untouched and no staging behind.
    public func apply(_ plan: SyncPlan, from source: any SourceTree, cancelled: () -> Bool = { false }) throws
        -> SyncOutcome
    {
        try applyParts(from: source, cancelled: cancelled) { stage in try stage(plan) }
    }

    /// Stages every part `parts` hands over, then commits them as one batch.
    private func applyParts(
        from source: any SourceTree, cancelled: () -> Bool, _ parts: ((SyncPlan) throws -> Void) throws -> Void
    ) throws -> SyncOutcome {
        var outcome = SyncOutcome()
        let mode = (try? source.info(""))?.mode ?? 0o755
        try TransferError.wrapping { () throws(SystemError) in try FileSystem.makeDirectories(root, mode: mode) }
        let stager = try staging.begin()
        try parts { part in
            try stage(part, from: source, into: stager, &outcome)
            outcome.skipped += part.skipped
        }
        if cancelled() { throw TransferError("batch abandoned before commit (shutdown)", path: root) }
        let counts = try stager.commit()
        outcome.written = counts.written
        outcome.deleted = counts.deleted
        outcome.updated = counts.updated
        return outcome
    }

    private func stage(
        _ plan: SyncPlan, from source: any SourceTree, into stager: BatchStager, _ outcome: inout SyncOutcome
    )
        throws(TransferError)
    {
        for op in plan.operations {
            if case .directory(let p, let info) = op, p.isEmpty {
                // The root exists already: only its mode and times are set, last.
                stager.rootInfo = info.ownedAsThisProcessCan
                continue
            }
            let path = try RelativePath(validating: op.path)
            switch op {
            case .copy(let p, _):
                guard let content = try TransferError.wrapping({ () throws(SystemError) in try open(source, p) }) else {
                    outcome.retry.append(p)
                    continue
                }
                if let current = FileInfo.lstat(FileSystem.join(root, p)), current.kind == .file,
                    current.size == content.info.size, directoriesAll(the: path),
                    FileSystem.sameContent(content.file.raw, FileSystem.join(root, p))
                {
                    // The same bytes are not written again: only the mode and times are set.
                    stager.attributes(path, info: content.info.ownedAsThisProcessCan)
                } else if let from = plan.bases[p], directoriesAll(the: try RelativePath(validating: from)),
                    FileSystem.sameContent(content.file.raw, FileSystem.join(root, from))
                {
                    // Moved, unchanged, too recently for size and time to prove it: renamed.
                    try stager.placeLink(
                        path, from: try RelativePath(validating: from), info: content.info.ownedAsThisProcessCan)
                    outcome.renamed += 1
                } else if let bytes = try stageCopy(content, to: path, stager) {
                    outcome.bytes += bytes
                } else {
                    outcome.retry.append(p)
                }
            case .symlink(_, let destination, let info):
                try stager.placeSymlink(path, destination: destination, info: info.ownedAsThisProcessCan)
            case .link(_, let from, let info):
                try stager.placeLink(path, from: try RelativePath(validating: from), info: info.ownedAsThisProcessCan)
                outcome.renamed += 1
            case .delete: stager.remove(path)
            case .directory(_, let info): stager.directory(path, info: info.ownedAsThisProcessCan)
            case .attributes(_, let info): stager.attributes(path, info: info.ownedAsThisProcessCan)
            }
        }
    }

    /// Whether every ancestor of `path` in the target is a real directory (no symlink on
    /// the way: the file compared must be the one the batch would replace).
    private func directoriesAll(the path: RelativePath) -> Bool {
        var prefix = root
        for part in path.parent {
            prefix += "/" + part
            guard FileInfo.lstat(prefix)?.kind == .directory else { return false }
        }
        return true
    }

    /// Copies a file into staging with the source's mode and times. Returns nil when a live
    /// source changed while it was read: it must not be shipped torn.
    private func stageCopy(_ content: borrowing SourceContent, to path: RelativePath, _ stager: BatchStager)
        throws(TransferError) -> Int64?
    {
        let output = try stager.createFile(for: path, mode: content.info.mode)
        let total = try TransferError.wrapping { () throws(SystemError) in
            try FileSystem.copy(from: content.file.raw, offset: 0, to: output.raw, path: content.shown)
        }
        guard content.heldStill(), total == content.info.size else {
            stager.discardFile(path)
            return nil
        }
        try stager.placeFile(path, output, info: content.info.ownedAsThisProcessCan)
        return total
    }

    /// A file's content; nil when it is gone (or was replaced by a symlink) since the plan:
    /// a later batch has it.
    private func open(_ source: any SourceTree, _ path: String) throws(SystemError) -> SourceContent? {
        do { return try source.open(path) } catch let error as SystemError { throw error } catch {
            throw SystemError("read (\(error))", path: path, code: nil)
        }
    }
}
