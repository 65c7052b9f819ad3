import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where batches for one tree are staged: `.<name>.runner-staging` beside the tree, on
/// the same file system (so the commit is renames) and outside it (so no reader of the
/// tree sees a staged file). Opening it rolls back what a crash left half-committed.
/// One batch directory serves the batches of this area's life, emptied after each and
/// removed with the area: making and removing two directories per batch cost about
/// 0.3 ms on ext4, a third of a change's latency.
final class StagingArea {
    /// The tree, absolute.
    let tree: String
    /// The staging directory.
    let path: String
    /// Whether commits are synced to disk (survive a power loss, not only a crash).
    let durable: Bool
    private var counter = 0
    /// The batch directory while it lasts.
    private var batchDirectory: TreeDirectory?
    /// The tree, opened to lock it: one batch at a time per tree, across processes. Two
    /// sessions of one module (a sender that reconnected while its old session still
    /// commits a batch that came late) would otherwise each compare and stage against a
    /// tree the other is changing, and write a file twice.
    private var lockDescriptor: Int32 = -1

    /// The staging area of `tree`. An interrupted batch found there is rolled back
    /// first, unless `recover` is false (`--dry-run` touches nothing).
    init(tree: String, durable: Bool, recover: Bool) throws(TransferError) {
        self.tree = tree
        self.durable = durable
        path = Self.beside(tree, "runner-staging")
        if recover { try self.recover() }
    }

    /// `.<name>.<suffix>` in the tree's parent: on its file system, outside it.
    static func beside(_ tree: String, _ suffix: String) -> String {
        let slash = tree.lastIndex(of: "/")!
        let parent = tree[..<slash].isEmpty ? "" : String(tree[..<slash])
        return parent + "/.\(tree[tree.index(after: slash)...]).\(suffix)"
    }

    /// Takes the tree's lock, waiting at most `seconds`; true when held (or there is no tree yet).
    private func lock(waiting seconds: Double) -> Bool {
        if lockDescriptor < 0 { lockDescriptor = open(tree.cPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard lockDescriptor >= 0 else { return true }
        let deadline = MonotonicClock.now + seconds
        while flock(lockDescriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, MonotonicClock.now < deadline else { return false }
            usleep(2_000)
        }
        return true
    }

    /// Lets the next batch of any session in.
    func unlock() {
        if lockDescriptor >= 0 { flock(lockDescriptor, LOCK_UN) }
    }

    /// Rolls back every journaled batch left in staging, then removes staging. Not while
    /// another session holds the tree: that batch is alive, not left behind.
    private func recover() throws(TransferError) {
        guard lock(waiting: 0) else { return }
        defer { unlock() }
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

    deinit {
        close()
        if lockDescriptor >= 0 { Glibc.close(lockDescriptor) }
    }

    /// Removes the batch directory, and staging with it when no one else's is there (the
    /// next batch makes them again). A process ending by `exit` runs no deinit: it calls this.
    func close() {
        guard let batchDirectory else { return }
        try? FileSystem.removeTree(batchDirectory.root)
        rmdir(path)
        self.batchDirectory = nil
    }

    /// An empty staging directory for one batch, and the stager that fills and commits it
    /// (and empties the directory when it goes). Made again if it went meanwhile (another
    /// receiver's start clears what it takes for a crash's leftovers).
    func begin() throws(TransferError) -> BatchStager {
        guard lock(waiting: Self.lockWait) else {
            throw TransferError(
                "another batch is being applied here (waited \(Int(Self.lockWait)) s); it is retried", path: tree)
        }
        do {
            let staging: TreeDirectory
            if let kept = batchDirectory, FileInfo.lstat(kept.root)?.kind == .directory {
                staging = kept
            } else {
                counter += 1
                let directory = path + "/batch-\(getpid())-\(counter)"
                try TransferError.wrapping { () throws(SystemError) in
                    try FileSystem.makeDirectories(directory, mode: 0o700)
                }
                staging = try TreeDirectory(directory)
                batchDirectory = staging
            }
            return BatchStager(
                staging: staging,
                applier: BatchApplier(tree: try TreeDirectory(tree), staging: staging, durable: durable),
                finished: unlock)
        } catch {
            unlock()
            throw error
        }
    }

    /// How long a batch waits for another session's to be committed.
    static let lockWait = 10.0
}
