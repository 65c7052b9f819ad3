#if canImport(Glibc)
import Glibc
#endif

/// A `file://` target: a directory on this host, updated one batch at a time.
///
/// A batch is staged beside the target (same file system, outside the tree) and
/// committed by a `BatchApplier` (journal, renames, rollback): readers see each file
/// old or new, and after a crash the next `LocalTarget` for the directory puts the
/// old tree back before anything else.
public final class LocalTarget {
    /// The target directory, absolute.
    public let root: String
    /// Where batches are staged before they are renamed into place.
    public let stagingRoot: String
    private var batchCounter = 0
    /// Whether commits are synced to disk (survive a power loss, not only a crash).
    public let durable: Bool

    /// A local target. An interrupted batch found in staging is rolled back first,
    /// unless `recover` is false (`--dry-run` touches nothing).
    public init(root: String, recover: Bool = true, durable: Bool = false) throws(TransferError) {
        self.root = root
        self.durable = durable
        let slash = root.lastIndex(of: "/")!
        let parent = root[..<slash].isEmpty ? "/" : String(root[..<slash])
        let name = root[root.index(after: slash)...]
        stagingRoot = (parent == "/" ? "" : parent) + "/.\(name).runner-staging"
        if recover { try self.recover() }
    }

    /// Rolls back every journaled batch left in staging, then removes staging.
    private func recover() throws(TransferError) {
        guard FileInfo.lstat(stagingRoot)?.kind == .directory, FileInfo.lstat(root)?.kind == .directory else {
            try? FS.removeTree(stagingRoot)
            return
        }
        let tree = try TreeDirectory(root)
        for name in FS.list(stagingRoot) where name.hasPrefix("batch-") {
            try BatchApplier(tree: tree, staging: try TreeDirectory(stagingRoot + "/" + name)).rollBackInterrupted()
        }
        try FS.removeTree(stagingRoot)
    }

    /// What applying a plan did.
    public struct Outcome: Sendable, Equatable {
        /// Files and links written.
        public var written = 0
        /// Paths deleted.
        public var deleted = 0
        /// Directories created or updated, and attribute-only changes.
        public var updated = 0
        /// Bytes of file content written.
        public var bytes: Int64 = 0
        /// Files that changed while being read: not sent now, to be sent in a later batch.
        public var retry: [String] = []
        /// Files sent again whole in the same batch, because their delta rebuilt another
        /// file at the receiver (its copy changed meanwhile, or a block shared its sums).
        public var resent: [String] = []
        /// What the receiver's post-sync actions did.
        public var actions: [ActionResult] = []
        /// Why the receiver rolled the batch back after an action refused it, if it did.
        public var rolledBack: String?
    }

    /// Applies a plan as one batch. `cancelled` is asked before the commit: a
    /// cancelled batch leaves the target untouched and no staging behind.
    public func apply(_ plan: SyncPlan, from source: String, cancelled: () -> Bool = { false }) throws(TransferError) -> Outcome {
        var outcome = Outcome()
        try FS.makeDirectories(root, mode: FileInfo.lstat(source)?.mode ?? 0o755)
        let batch = try beginBatch()
        let staging = batch.staging
        let stagingPath = staging.root

        var changes: [BatchApplier.Change] = []
        var rootInfo: FileInfo?
        for op in plan.operations {
            if case .directory(let p, let info) = op, p.isEmpty {
                rootInfo = info  // the root exists already: only its mode and times are set, last
                continue
            }
            let path = try RelativePath(validating: op.path)
            let staged = BatchApplier.stagedName(changes.count)
            switch op {
            case .copy(let p, _):
                if let bytes = try stageCopy(from: FS.join(source, p), into: staging, as: staged) {
                    outcome.bytes += bytes
                    changes.append(.place(path))
                } else {
                    outcome.retry.append(p)
                }
            case .symlink(_, let destination, let info):
                guard symlinkat(destination, staging.rootFD, staged) == 0 else {
                    throw TransferError("symlink failed: \(FS.errorText())", path: stagingPath)
                }
                var times = [info.timespec, info.timespec]
                utimensat(staging.rootFD, staged, &times, AT_SYMLINK_NOFOLLOW)
                changes.append(.place(path))
            case .delete:
                changes.append(.remove(path))
            case .directory(_, let info):
                changes.append(.directory(path, info))
            case .attributes(_, let info):
                changes.append(.attributes(path, info))
            }
        }
        if cancelled() { throw TransferError("batch abandoned before commit (shutdown)", path: root) }
        let counts = try batch.applier.commit(changes, rootInfo: rootInfo)
        outcome.written = counts.written
        outcome.deleted = counts.deleted
        outcome.updated = counts.updated
        return outcome
    }

    /// A new staging directory for one batch, removed when the value goes away.
    func beginBatch() throws(TransferError) -> StagedBatch {
        batchCounter += 1
        let path = stagingRoot + "/batch-\(getpid())-\(batchCounter)"
        try FS.makeDirectories(path, mode: 0o700)
        let staging = try TreeDirectory(path)
        return StagedBatch(stagingRoot: stagingRoot, staging: staging, applier: BatchApplier(tree: try TreeDirectory(root), staging: staging, durable: durable))
    }

    /// Copies a file into staging with the source's mode and times. Returns nil when
    /// the source changed while it was read (or vanished): it must not be shipped torn.
    private func stageCopy(from path: String, into staging: TreeDirectory, as name: String) throws(TransferError) -> Int64? {
        let input = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ENOENT || errno == ELOOP { return nil }
            throw TransferError("open failed: \(FS.errorText())", path: path)
        }
        defer { close(input) }
        var before = stat()
        fstat(input, &before)
        let output = openat(staging.rootFD, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard output >= 0 else { throw TransferError("create in staging failed: \(FS.errorText())", path: staging.root) }
        defer { close(output) }
        var total: Int64 = 0
        while true {
            let n = sendfile(output, input, nil, 1 << 30)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EINVAL || errno == ENOSYS {
                    total += try FS.copyByReading(input, output, path: path)
                    break
                }
                throw TransferError("copy failed: \(FS.errorText())", path: path)
            }
            if n == 0 { break }
            total += Int64(n)
        }
        var after = stat()
        fstat(input, &after)
        let b = FileInfo(after)
        guard FileInfo(before) == b, b.size == total else { return nil }
        fchmod(output, mode_t(b.mode))
        var times = [b.timespec, b.timespec]
        futimens(output, &times)
        return total
    }
}

/// One batch's staging directory and the applier that commits it; the directory
/// (and the staging root, when no other batch uses it) goes when this does.
final class StagedBatch {
    let stagingRoot: String
    let staging: TreeDirectory
    let applier: BatchApplier

    init(stagingRoot: String, staging: TreeDirectory, applier: BatchApplier) {
        self.stagingRoot = stagingRoot
        self.staging = staging
        self.applier = applier
    }

    deinit {
        try? FS.removeTree(staging.root)
        rmdir(stagingRoot)
    }
}
