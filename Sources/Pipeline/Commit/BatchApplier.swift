import CLinux
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Commits a staged batch into a tree, or rolls it back.
///
/// The journal is written and synced before the first rename; then each change is
/// renamed into place (what it replaces is kept in staging); then the journal is
/// removed: that is the commit point. A failure before it rolls the batch back; a
/// process that died mid-commit leaves the journal, and `rollBackInterrupted` puts
/// the old tree back. The tree is reached only through descriptors with
/// `O_NOFOLLOW`, so a symlink in it is never followed.
final class BatchApplier {
    /// One change; a `place` takes its content from staging's `new-<index>`, where
    /// index is the change's position in the batch.
    enum Change {
        case place(RelativePath)
        case remove(RelativePath)
        case directory(RelativePath, FileInfo)
        case attributes(RelativePath, FileInfo)

        /// The entry the commit renames or creates; nil for a change of mode and times only.
        var renamed: RelativePath? {
            switch self {
            case .place(let p), .remove(let p), .directory(let p, _): return p
            case .attributes: return nil
            }
        }
    }

    /// What a commit did.
    struct Counts: Equatable { var written = 0, deleted = 0, updated = 0 }

    let tree: TreeDirectory
    let staging: TreeDirectory
    /// Sync staged files, the journal and the touched directories (survives a power loss).
    let durable: Bool
    /// Test hook of a debug build (the tests'): after this many commit renames the process
    /// kills itself, to test crash recovery with a real crash. A release build has none.
    #if DEBUG
        private let crashAfterRenames: Int? = getenv("RUNNER_DEBUG_CRASH_AFTER_RENAMES").flatMap {
            Int(String(cString: $0))
        }
    #else
        private let crashAfterRenames: Int? = nil
    #endif

    init(tree: TreeDirectory, staging: TreeDirectory, durable: Bool = false) {
        self.tree = tree
        self.staging = staging
        self.durable = durable
    }

    /// The staging name of the content for change `index`.
    static func stagedName(_ index: Int) -> String { "new-\(index)" }

    /// A batch committed with `holding`, until `release` or `rollBackHeld`: its journal,
    /// and the entries it renamed (their directories are synced again after a rollback).
    private var held: (journal: BatchJournal, renamed: [RelativePath])?

    /// Commits the changes; `rootInfo` sets the tree root's own mode and times last.
    /// With `holding`, the commit point waits: the journal and the replaced files stay
    /// in staging (a crash now still rolls back) until `release()` makes the batch
    /// final or `rollBackHeld()` undoes it — what post-sync validation needs.
    func commit(_ changes: [Change], rootInfo: FileInfo?, holding: Bool = false) throws(TransferError) -> Counts {
        var journal = BatchJournal()
        var directories: [(RelativePath, FileInfo)] = []
        var attributes: [(RelativePath, FileInfo)] = []
        for (index, change) in changes.enumerated() {
            switch change {
            case .place(let path):
                journal.entries.append(.replace(path: path, index: index))
            case .remove(let path):
                journal.entries.append(.remove(path: path, index: index))
            case .directory(let path, let info):
                let old = tree.info(path)
                journal.entries.append(
                    .directory(
                        path: path, index: index, created: old?.kind != .directory,
                        old: old ?? FileInfo(kind: .directory, mode: 0, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0)))
                directories.append((path, info))
            case .attributes(let path, let info):
                let old = tree.info(path)
                journal.entries.append(
                    .attributes(
                        path: path,
                        old: old
                            ?? FileInfo(kind: .file, mode: info.mode, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0)))
                attributes.append((path, info))
            }
        }
        defer {
            if let info = rootInfo {
                fchmod(tree.rootFD, mode_t(info.mode))
                var times = [info.timespec, info.timespec]
                futimens(tree.rootFD, &times)
            }
        }
        var counts = Counts()
        guard !journal.entries.isEmpty else { return counts }
        if durable { syncStaged(changes) }
        if holding || needsJournal(journal) { try journal.write(in: staging, sync: durable) }

        do throws(TransferError) {
            var renames = 0
            func renamed() {
                renames += 1
                if let limit = crashAfterRenames, renames >= limit { kill(getpid(), SIGKILL) }
            }
            // The directory the last file went into: files of a batch mostly share their
            // parent, which is then opened once. Anything that moves or makes a directory
            // forgets it.
            var parent: (components: ArraySlice<String>, fd: Int32)?
            defer { if let parent { close(parent.fd) } }
            func forgetParent() {
                if let p = parent { close(p.fd) }
                parent = nil
            }
            func parentDirectory(_ path: RelativePath) throws(TransferError) -> Int32 {
                if let p = parent, p.components == path.parent { return p.fd }
                forgetParent()
                let fd = try tree.openDirectory(path.parent, create: true).release()
                parent = (path.parent, fd)
                return fd
            }
            for entry in journal.entries {
                switch entry {
                case let .directory(path, index, created, _):
                    guard created else { continue }
                    forgetParent()
                    if tree.info(path) != nil {
                        try TreeDirectory.rename(tree, path, to: staging, try RelativePath(validating: "old-\(index)"))
                        renamed()
                    }
                    let parent = try tree.openDirectory(path.parent, create: true)
                    guard mkdirat(parent.raw, path.name.cPath, 0o700) == 0 || errno == EEXIST else {
                        throw TransferError("mkdir failed: \(SystemError.text())", path: "\(tree.root)/\(path)")
                    }
                    counts.updated += 1
                case let .replace(path, index):
                    var dir = try parentDirectory(path)
                    // Nothing there (a new file): one call, and nothing to keep for a rollback.
                    if runner_rename_noreplace(staging.rootFD, BatchApplier.stagedName(index), dir, path.name.cPath)
                        == 0
                    {
                        renamed()
                        counts.written += 1
                        continue
                    }
                    var st = stat()
                    if fstatat(dir, path.name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                        // A directory in the way moves out whole; a file is simply replaced by the rename.
                        if st.st_mode & S_IFMT == S_IFDIR {
                            forgetParent()
                            try TreeDirectory.rename(
                                tree, path, to: staging, try RelativePath(validating: "old-\(index)"))
                            dir = try parentDirectory(path)
                        } else {
                            // Keep the old file for a rollback: a hard link costs no copy.
                            guard linkat(dir, path.name.cPath, staging.rootFD, "old-\(index)", 0) == 0 else {
                                throw TransferError(
                                    "cannot keep the old file: \(SystemError.text())", path: "\(tree.root)/\(path)")
                            }
                        }
                    }
                    guard renameat(staging.rootFD, BatchApplier.stagedName(index), dir, path.name.cPath) == 0 else {
                        throw TransferError(
                            "rename to \(tree.root)/\(path) failed: \(SystemError.text())",
                            path: "\(staging.root)/\(BatchApplier.stagedName(index))", code: errno)
                    }
                    renamed()
                    counts.written += 1
                case let .remove(path, index):
                    forgetParent()
                    guard tree.info(path) != nil else { continue }
                    try TreeDirectory.rename(tree, path, to: staging, try RelativePath(validating: "old-\(index)"))
                    renamed()
                    counts.deleted += 1
                case .attributes:
                    break
                }
            }
            for (path, info) in attributes {
                try setAttributes(path, info)
                counts.updated += 1
            }
            // Children first: writing a child changes its directory's time.
            for (path, info) in directories.reversed() { try setAttributes(path, info) }
        } catch {
            try? rollback(journal)
            throw error
        }
        if durable { syncDirectories(changes.compactMap(\.renamed)) }
        if holding {
            held = (journal, changes.compactMap(\.renamed))
        } else {
            // The commit point: without a journal, there is nothing to roll back.
            unlinkat(staging.rootFD, BatchJournal.fileName, 0)
        }
        return counts
    }

    /// Makes a held batch final (its commit point).
    func release() {
        guard held != nil else { return }
        held = nil
        unlinkat(staging.rootFD, BatchJournal.fileName, 0)
    }

    /// Puts back what a held batch replaced.
    func rollBackHeld() throws(TransferError) {
        guard let (journal, renamed) = held else { return }
        held = nil
        try rollback(journal)
        if durable { syncDirectories(renamed) }
    }

    /// fsync of every staged file, before anything is renamed into the tree.
    private func syncStaged(_ changes: [Change]) {
        for (index, change) in changes.enumerated() {
            guard case .place = change else { continue }
            let name = BatchApplier.stagedName(index)
            if let file = try? FileDescriptor(at: staging.rootFD, name, O_RDONLY | O_NOFOLLOW, shown: name) {
                fsync(file.raw)
            }
        }
    }

    /// fsync of the directories whose entries the batch renamed, so the renames are durable.
    private func syncDirectories(_ paths: [RelativePath]) {
        for parent in Set(paths.map { Array($0.parent) }) {
            if let fd = try? tree.openDirectory(parent[...], create: false) { fsync(fd.raw) }
        }
    }

    /// A batch of one rename is atomic by itself (a crash leaves the old entry or the
    /// new one), so it skips the journal and its fsyncs — the common one-file batch.
    /// Replacing a directory takes two renames, and needs it.
    private func needsJournal(_ journal: BatchJournal) -> Bool {
        guard journal.entries.count == 1 else { return true }
        switch journal.entries[0] {
        case .remove: return false
        case .replace(let path, _): return tree.info(path)?.kind == .directory
        default: return true
        }
    }

    /// Gives the entry at `path` `info`'s owner (where it says one), then its mode (a chown
    /// clears set-id bits), then its times; a symlink's own, never its destination's.
    func setAttributes(_ path: RelativePath, _ info: FileInfo) throws(TransferError) {
        let parent = try tree.openDirectory(path.parent, create: false)
        var st = stat()
        guard fstatat(parent.raw, path.name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if FileInfo(st).ownerDiffers(from: info),
            fchownat(parent.raw, path.name.cPath, info.uid, info.gid, AT_SYMLINK_NOFOLLOW) != 0
        {
            throw TransferError(
                "chown to \(info.uid):\(info.gid) failed: \(SystemError.text())", path: "\(tree.root)/\(path)")
        }
        if st.st_mode & S_IFMT != S_IFLNK, fchmodat(parent.raw, path.name.cPath, mode_t(info.mode), 0) != 0 {
            throw TransferError("chmod failed: \(SystemError.text())", path: "\(tree.root)/\(path)")
        }
        var times = [info.timespec, info.timespec]
        if utimensat(parent.raw, path.name.cPath, &times, AT_SYMLINK_NOFOLLOW) != 0 {
            throw TransferError("setting times failed: \(SystemError.text())", path: "\(tree.root)/\(path)")
        }
    }
}
