import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where batches for one tree are staged: `.<name>.runner-staging` beside the tree, on
/// the same file system (so the commit is renames) and outside it (so no reader of the
/// tree sees a staged file). Opening it rolls back what a crash left half-committed.
final class StagingArea {
    /// The tree, absolute.
    let tree: String
    /// The staging directory.
    let path: String
    /// Whether commits are synced to disk (survive a power loss, not only a crash).
    let durable: Bool
    private var counter = 0

    /// The staging area of `tree`. An interrupted batch found there is rolled back
    /// first, unless `recover` is false (`--dry-run` touches nothing).
    init(tree: String, durable: Bool, recover: Bool) throws(TransferError) {
        self.tree = tree
        self.durable = durable
        let slash = tree.lastIndex(of: "/")!
        let parent = tree[..<slash].isEmpty ? "" : String(tree[..<slash])
        path = parent + "/.\(tree[tree.index(after: slash)...]).runner-staging"
        if recover { try self.recover() }
    }

    /// Rolls back every journaled batch left in staging, then removes staging.
    private func recover() throws(TransferError) {
        guard FileInfo.lstat(path)?.kind == .directory, FileInfo.lstat(tree)?.kind == .directory else {
            try? FileSystem.removeTree(path)
            return
        }
        let treeDirectory = try TreeDirectory(tree)
        for name in DirectoryEntries.sorted(at: path) where name.hasPrefix("batch-") {
            try BatchApplier(tree: treeDirectory, staging: try TreeDirectory(path + "/" + name)).rollBackInterrupted()
        }
        try TransferError.wrapping { () throws(SystemError) in try FileSystem.removeTree(path) }
    }

    /// A fresh staging directory for one batch, and the stager that fills and commits it.
    func begin() throws(TransferError) -> BatchStager {
        counter += 1
        let directory = path + "/batch-\(getpid())-\(counter)"
        try TransferError.wrapping { () throws(SystemError) in try FileSystem.makeDirectories(directory, mode: 0o700) }
        let staging = try TreeDirectory(directory)
        return BatchStager(
            staging: staging, applier: BatchApplier(tree: try TreeDirectory(tree), staging: staging, durable: durable),
            stagingRoot: path)
    }
}
