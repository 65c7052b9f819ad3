import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Fills one batch's staging directory, change by change, and commits it: the one way
/// a `file://` target and a receiver session stage a file, a symlink, a directory or a
/// deletion. A staged entry gets its mode and times here, so the commit is renames only.
/// The staging directory is emptied when the stager goes (its area keeps it for the next batch).
///
/// A directory the tree does not have is staged whole: made in staging, its files
/// written straight into it under their own names, and renamed into place at the commit
/// as one entry (an initial sync of 10,000 files in 100 directories commits 100 renames,
/// not 10,000). Not on a durable tree, whose commit syncs each staged file by its name.
/// What is staged inside such a directory is not remembered entry by entry (staging holds
/// it), so a first sync of a million files keeps a few bytes per directory, none per file.
final class BatchStager {
    let staging: TreeDirectory
    let applier: BatchApplier
    /// The changes so far; a `place` takes its content from staging's `new-<index>`.
    private(set) var changes: [BatchApplier.Change] = []
    /// The tree root's own mode and times, set last.
    var rootInfo: FileInfo?
    /// Directories staged whole at the top of staging, by path: their `new-<index>`. One
    /// below another is made inside it, under its own name.
    private var newDirectories: [String: String] = [:]
    /// Those made inside them: where each is in staging, and its mode and times, set once
    /// its entries are in.
    private var insideDirectories: [(location: String, info: FileInfo)] = []
    /// Descriptors of the last few staged directories, by path. A walk fills one directory
    /// after another: a first sync of 100,000 new directories must not hold 100,000 descriptors.
    private var openDirectories: [(path: String, fd: Int32)] = []
    private static let openDirectoryLimit = 16
    /// The number of files and links staged inside them, and those staged top-level
    /// (counted as the commit counts files, and told apart from the directories it renames).
    private var filesInside = 0, directoriesPlaced = 0
    /// The mode the file just created got (its permission bits less the umask).
    private var createdMode: UInt32?
    /// The owner an entry made in staging gets: this process's, or the group of a set-group-id
    /// staging directory. An entry that is to have it is not chowned.
    private lazy var createdOwner: FileInfo = {
        var st = stat()
        let setgid = fstat(staging.rootFD, &st) == 0 && st.st_mode & S_ISGID != 0
        return FileInfo(
            kind: .file, mode: 0, size: 0, mtimeSeconds: 0, mtimeNanoseconds: 0, uid: geteuid(),
            gid: setgid ? st.st_gid : getegid())
    }()

    /// The process's umask, read without setting it (`umask(2)` would, for every thread).
    private static let umask: UInt32? = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") })
        else { return nil }
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last.flatMap { UInt32($0, radix: 8) }
    }()

    /// Called when the stager goes, its staging emptied (the area's lock is let go).
    private let finished: () -> Void

    init(staging: TreeDirectory, applier: BatchApplier, finished: @escaping () -> Void = {}) {
        self.staging = staging
        self.applier = applier
        self.finished = finished
    }

    deinit {
        defer { finished() }
        for (_, fd) in openDirectories { close(fd) }
        // What a commit leaves (the old files kept for a rollback), or a failed batch's all.
        try? FileSystem.removeContents(of: staging.rootFD, shown: staging.root)
    }

    private var nextName: String { BatchApplier.stagedName(changes.count) }

    /// Where the entry for `path` is staged: inside its staged new directory under its own
    /// name, or top-level as the next change's `new-<index>`.
    private func slot(_ path: RelativePath) -> (directory: Int32, name: String, inside: Bool) {
        if let parent = descriptor(of: RelativePath.split(path.description).parent) { return (parent, path.name, true) }
        return (staging.rootFD, nextName, false)
    }

    /// Where the directory at `path` is in staging, when it or an ancestor is staged whole.
    private func location(of path: String) -> String? {
        guard !newDirectories.isEmpty, !path.isEmpty else { return nil }
        var end = path.endIndex
        while true {
            if let top = newDirectories[String(path[..<end])] { return top + path[end...] }
            guard let slash = path[..<end].lastIndex(of: "/") else { return nil }
            end = slash
        }
    }

    /// The staged directory at `path`, opened again when it is no longer among the last
    /// few; nil when it is not staged whole (or cannot be opened: its entries then go
    /// top-level, placed after it).
    private func descriptor(of path: String) -> Int32? {
        if let open = openDirectories.last(where: { $0.path == path }) { return open.fd }
        guard let location = location(of: path),
            let opened = try? FileDescriptor(
                at: staging.rootFD, location, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, shown: staging.root + "/" + location)
        else { return nil }
        remember(path, opened.release())
        return openDirectories.last?.fd
    }

    private func remember(_ path: String, _ fd: Int32) {
        if openDirectories.count >= Self.openDirectoryLimit { close(openDirectories.removeFirst().fd) }
        openDirectories.append((path, fd))
    }

    /// Records an entry staged at `slot` for `path`.
    private func staged(_ path: RelativePath, inside: Bool) {
        if inside {
            filesInside += 1
        } else {
            changes.append(.place(path))
        }
    }

    /// Creates the staged file for `path` with the permission bits of `mode`, and always
    /// the owner's read and write (it is written, and compared with the file it would
    /// replace; staging is 0700); the caller writes it, then calls `placeFile` or `discardFile`.
    func createFile(for path: RelativePath, mode: UInt32) throws(TransferError) -> FileDescriptor {
        let at = slot(path)
        let bits = mode & 0o777 | 0o600
        createdMode = Self.umask.map { bits & ~$0 }
        return try TransferError.wrapping { () throws(SystemError) in
            try FileDescriptor(
                at: at.directory, at.name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode_t(bits),
                shown: staging.root + "/" + at.name)
        }
    }

    /// The file just written goes to `path` with `info`'s owner, mode and times, all set
    /// before it leaves staging (0700): a file no one else may read is never readable by
    /// another in the tree. A mode the creation already gave is not set again, nor an owner.
    func placeFile(_ path: RelativePath, _ file: borrowing FileDescriptor, info: FileInfo) throws(TransferError) {
        if createdOwner.ownerDiffers(from: info) {
            // Before the mode: a chown clears set-id bits.
            guard fchown(file.raw, info.uid, info.gid) == 0 else {
                throw TransferError(
                    SystemError("chown to \(info.uid):\(info.gid)", path: "\(applier.tree.root)/\(path)"))
            }
            createdMode = nil
        }
        if createdMode != info.mode & 0o7777 { fchmod(file.raw, mode_t(info.mode)) }
        var times = [info.timespec, info.timespec]
        futimens(file.raw, &times)
        staged(path, inside: slot(path).inside)
    }

    /// The file just created for `path` will not be placed (its source changed while it was read).
    func discardFile(_ path: RelativePath) {
        let at = slot(path)
        unlinkat(at.directory, at.name.cPath, 0)
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
        let at = slot(path)
        guard linkat(parent.raw, from.name.cPath, at.directory, at.name.cPath, 0) == 0 else {
            throw TransferError(SystemError("link", path: "\(applier.tree.root)/\(from)"))
        }
        staged(path, inside: at.inside)
        let now = FileInfo(st)
        if now.mode != info.mode || now.mtimeSeconds != info.mtimeSeconds
            || now.mtimeNanoseconds != info.mtimeNanoseconds || now.ownerDiffers(from: info)
        {
            changes.append(.attributes(path, info))
        }
    }

    /// A symlink, stored as a link and never followed: where it points is the tree's readers' business.
    func placeSymlink(_ path: RelativePath, destination: String, info: FileInfo) throws(TransferError) {
        let at = slot(path)
        guard symlinkat(destination.cPath, at.directory, at.name.cPath) == 0 else {
            throw TransferError(SystemError("symlink", path: "\(staging.root)/\(at.name) for \(path)"))
        }
        if createdOwner.ownerDiffers(from: info),
            fchownat(at.directory, at.name.cPath, info.uid, info.gid, AT_SYMLINK_NOFOLLOW) != 0
        {
            throw TransferError(SystemError("chown to \(info.uid):\(info.gid)", path: "\(applier.tree.root)/\(path)"))
        }
        var times = [info.timespec, info.timespec]
        utimensat(at.directory, at.name.cPath, &times, AT_SYMLINK_NOFOLLOW)
        staged(path, inside: at.inside)
    }

    /// The path and what is below it go.
    func remove(_ path: RelativePath) { changes.append(.remove(path)) }

    /// A directory, created if missing, with `info`'s mode and times: staged whole when the
    /// tree lacks it and has its parent (or the parent is staged whole too).
    func directory(_ path: RelativePath, info: FileInfo) {
        let parent = RelativePath.split(path.description).parent
        let parentLocation = location(of: parent)
        let inside = parentLocation == nil ? nil : descriptor(of: parent)
        guard !applier.durable, newDirectories[path.description] == nil,
            inside != nil
                || (parent.isEmpty || applier.tree.info(RelativePath(trusted: path.parent))?.kind == .directory)
                    && applier.tree.info(path) == nil
        else {
            changes.append(.directory(path, info))
            return
        }
        let name = inside == nil ? nextName : path.name
        guard mkdirat(inside ?? staging.rootFD, name.cPath, 0o700) == 0,
            let made = try? FileDescriptor(
                at: inside ?? staging.rootFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
                shown: staging.root + "/" + name)
        else {
            changes.append(.directory(path, info))
            return
        }
        // Its owner at once, before anything is in it; mode and times once its entries are.
        if createdOwner.ownerDiffers(from: info) { fchown(made.raw, info.uid, info.gid) }
        remember(path.description, made.release())
        if let parentLocation, inside != nil {
            // Its own mode and times once its entries are in: set at the commit.
            insideDirectories.append((parentLocation + "/" + path.name, info))
        } else {
            newDirectories[path.description] = name
            changes.append(.place(path))
            directoriesPlaced += 1
            // Its own mode and times once its entries are in: set after the renames.
            changes.append(.attributes(path, info))
        }
    }

    /// Only mode and times change.
    func attributes(_ path: RelativePath, info: FileInfo) { changes.append(.attributes(path, info)) }

    /// Commits the batch (see `BatchApplier.commit`). A directory staged whole counts as
    /// a directory made, and the files in it as files written, as if placed one by one.
    func commit(holding: Bool = false) throws(TransferError) -> BatchApplier.Counts {
        // Children first, so that a directory its owner cannot write is closed last. Changing
        // a directory's mode or times does not touch its parent's.
        for (location, info) in insideDirectories.reversed() {
            guard fchmodat(staging.rootFD, location.cPath, mode_t(info.mode), 0) == 0 else {
                throw TransferError(SystemError("chmod", path: staging.root + "/" + location))
            }
            var times = [info.timespec, info.timespec]
            utimensat(staging.rootFD, location.cPath, &times, AT_SYMLINK_NOFOLLOW)
        }
        var counts = try applier.commit(changes, rootInfo: rootInfo, holding: holding)
        counts.written += filesInside - directoriesPlaced
        counts.updated += insideDirectories.count
        return counts
    }

    /// Every entry the batch renames, makes or removes, those inside directories staged
    /// whole included (found in the tree, where the commit put them).
    var changedPaths: [String] {
        var paths = changes.compactMap(\.renamed).map(\.description)
        for top in newDirectories.keys.sorted() { walk(top, into: &paths) }
        return paths
    }

    private func walk(_ directory: String, into paths: inout [String]) {
        let full = applier.tree.root + "/" + directory
        for entry in DirectoryEntries.entries(at: full).sorted(by: { $0.name < $1.name }) {
            let path = directory + "/" + entry.name
            paths.append(path)
            if entry.kind == .directory
                || entry.kind == nil && FileInfo.lstat(full + "/" + entry.name)?.kind == .directory
            {
                walk(path, into: &paths)
            }
        }
    }
}
