import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Fills one batch's staging directory, change by change, and commits it: the one way
/// a `file://` target and a receiver session stage a file, a symlink, a directory or a
/// deletion. A staged entry gets its mode and times here, so the commit is renames only.
/// The staging directory is emptied when the stager goes (its area keeps it for the next batch).
final class BatchStager {
    let staging: TreeDirectory
    let applier: BatchApplier
    /// The changes so far; a `place` takes its content from staging's `new-<index>`.
    private(set) var changes: [BatchApplier.Change] = []
    /// The tree root's own mode and times, set last.
    var rootInfo: FileInfo?

    init(staging: TreeDirectory, applier: BatchApplier) {
        self.staging = staging
        self.applier = applier
    }

    deinit {
        // What a commit leaves (the old files kept for a rollback), or a failed batch's all.
        // A descriptor of its own: a `dup` of the root's would share (and leave at the end) its offset.
        guard
            let directory = try? FileDescriptor(
                at: staging.rootFD, ".", O_RDONLY | O_DIRECTORY, shown: staging.root),
            let names = try? DirectoryEntries.names(of: directory)
        else { return }
        for name in names {
            try? FileSystem.removeEntry(in: staging.rootFD, name, shown: staging.root + "/" + name)
        }
    }

    private var nextName: String { BatchApplier.stagedName(changes.count) }

    /// Creates the staged file for the next change (mode 0600 until it is placed; readable,
    /// so that it can be compared with the file it would replace); the
    /// caller writes it, then calls `placeFile` or `discardFile`.
    func createFile() throws(TransferError) -> FileDescriptor {
        try TransferError.wrapping { () throws(SystemError) in
            try FileDescriptor(
                at: staging.rootFD, nextName, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600,
                shown: staging.root + "/" + nextName)
        }
    }

    /// The file just written goes to `path` with `info`'s mode and times.
    func placeFile(_ path: RelativePath, _ file: borrowing FileDescriptor, info: FileInfo) {
        fchmod(file.raw, mode_t(info.mode))
        var times = [info.timespec, info.timespec]
        futimens(file.raw, &times)
        changes.append(.place(path))
    }

    /// The file just created will not be placed (its source changed while it was read).
    func discardFile() {
        unlinkat(staging.rootFD, nextName, 0)
    }

    /// The tree's file at `from` becomes `path` (a move in the source): hard-linked into
    /// staging now, renamed into place at the commit like any staged file, so the batch
    /// stays atomic and the file keeps its inode. Its mode and times, when they differ,
    /// are set at the commit (the link shares the inode of a file still in the tree).
    /// Throws when `from` is not a regular file of the tree.
    func placeLink(_ path: RelativePath, from: RelativePath, info: FileInfo) throws(TransferError) {
        let parent = try applier.tree.openDirectory(from.parent, create: false)
        var st = stat()
        guard fstatat(parent.raw, from.name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw TransferError("not a file to rename: \(from)", path: "\(applier.tree.root)/\(from)")
        }
        guard linkat(parent.raw, from.name.cPath, staging.rootFD, nextName, 0) == 0 else {
            throw TransferError(SystemError("link", path: "\(applier.tree.root)/\(from)"))
        }
        changes.append(.place(path))
        let now = FileInfo(st)
        if now.mode != info.mode || now.mtimeSeconds != info.mtimeSeconds
            || now.mtimeNanoseconds != info.mtimeNanoseconds
        {
            changes.append(.attributes(path, info))
        }
    }

    /// A symlink, stored as a link and never followed: where it points is the tree's readers' business.
    func placeSymlink(_ path: RelativePath, destination: String, info: FileInfo) throws(TransferError) {
        guard symlinkat(destination.cPath, staging.rootFD, nextName) == 0 else {
            throw TransferError(SystemError("symlink", path: "\(staging.root)/\(nextName) for \(path)"))
        }
        var times = [info.timespec, info.timespec]
        utimensat(staging.rootFD, nextName, &times, AT_SYMLINK_NOFOLLOW)
        changes.append(.place(path))
    }

    /// The path and what is below it go.
    func remove(_ path: RelativePath) { changes.append(.remove(path)) }

    /// A directory, created if missing, with `info`'s mode and times.
    func directory(_ path: RelativePath, info: FileInfo) { changes.append(.directory(path, info)) }

    /// Only mode and times change.
    func attributes(_ path: RelativePath, info: FileInfo) { changes.append(.attributes(path, info)) }

    /// Commits the batch (see `BatchApplier.commit`).
    func commit(holding: Bool = false) throws(TransferError) -> BatchApplier.Counts {
        try applier.commit(changes, rootInfo: rootInfo, holding: holding)
    }
}
