#if canImport(Glibc)
import Glibc
#endif

/// A `file://` target: a directory on this host, updated one batch at a time.
///
/// A batch is staged beside the target (same file system, outside the tree), then a
/// journal is written and synced, then entries are renamed into place (what they
/// replace moves into staging), then the journal is removed: that is the commit
/// point. A failure before it rolls the batch back; a process that died mid-commit
/// leaves the journal, and the next `LocalTarget` for the directory rolls back
/// before anything else. Readers see each file old or new, and after a crash the
/// tree is the old one, never a mix. The target side is reached only through
/// descriptors with `O_NOFOLLOW`, so a symlink in the target is never followed.
public final class LocalTarget {
    /// The target directory, absolute.
    public let root: String
    /// Where batches are staged before they are renamed into place.
    public let stagingRoot: String
    private var batchCounter = 0
    /// Test hook: after this many commit renames the process kills itself, to test
    /// crash recovery with a real crash (`RUNNER_TEST_CRASH_AFTER_RENAMES`).
    private let crashAfterRenames: Int? = getenv("RUNNER_TEST_CRASH_AFTER_RENAMES").flatMap { Int(String(cString: $0)) }

    /// A local target. An interrupted batch found in staging is rolled back first,
    /// unless `recover` is false (`--dry-run` touches nothing).
    public init(root: String, recover: Bool = true) throws(TransferError) {
        self.root = root
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
            let staging = try TreeDirectory(stagingRoot + "/" + name)
            if let journal = try BatchJournal.read(in: staging) {
                try rollback(journal, tree: tree, staging: staging)
            }
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
    }

    /// Applies a plan as one batch. `cancelled` is asked before the commit: a
    /// cancelled batch leaves the target untouched and no staging behind.
    public func apply(_ plan: SyncPlan, from source: String, cancelled: () -> Bool = { false }) throws(TransferError) -> Outcome {
        var outcome = Outcome()
        try FS.makeDirectories(root, mode: FileInfo.lstat(source)?.mode ?? 0o755)
        batchCounter += 1
        let stagingPath = stagingRoot + "/batch-\(getpid())-\(batchCounter)"
        try FS.makeDirectories(stagingPath, mode: 0o700)
        defer {
            try? FS.removeTree(stagingPath)
            rmdir(stagingRoot)  // only when empty: another batch may be staging
        }
        let staging = try TreeDirectory(stagingPath)
        let tree = try TreeDirectory(root)

        // Stage, and journal what the commit will do.
        var journal = BatchJournal()
        var directories: [(RelativePath, FileInfo)] = []
        var attributes: [(RelativePath, FileInfo)] = []
        var rootInfo: FileInfo?
        for (index, op) in plan.operations.enumerated() {
            if case .directory(let p, let info) = op, p.isEmpty {
                rootInfo = info  // the root exists already: only its mode and times are set, last
                continue
            }
            let path = try RelativePath(validating: op.path)
            switch op {
            case .copy(let p, _):
                if let bytes = try stageCopy(from: FS.join(source, p), into: staging, as: "new-\(index)") {
                    outcome.bytes += bytes
                    journal.entries.append(.replace(path: path, index: index))
                } else {
                    outcome.retry.append(p)
                }
            case .symlink(_, let destination, let info):
                guard symlinkat(destination, staging.rootFD, "new-\(index)") == 0 else {
                    throw TransferError("symlink failed: \(FS.errorText())", path: stagingPath)
                }
                var times = [info.timespec, info.timespec]
                utimensat(staging.rootFD, "new-\(index)", &times, AT_SYMLINK_NOFOLLOW)
                journal.entries.append(.replace(path: path, index: index))
            case .delete:
                journal.entries.append(.remove(path: path, index: index))
            case .directory(_, let info):
                let old = tree.info(path)
                let created = old?.kind != .directory
                journal.entries.append(.directory(path: path, index: index, created: created, oldMode: old?.mode ?? 0,
                                                  oldSeconds: old?.mtimeSeconds ?? 0, oldNanoseconds: old?.mtimeNanoseconds ?? 0))
                directories.append((path, info))
            case .attributes(_, let info):
                let old = tree.info(path)
                journal.entries.append(.attributes(path: path, oldMode: old?.mode ?? info.mode, oldSeconds: old?.mtimeSeconds ?? 0,
                                                   oldNanoseconds: old?.mtimeNanoseconds ?? 0))
                attributes.append((path, info))
            }
        }
        if cancelled() { throw TransferError("batch abandoned before commit (shutdown)", path: root) }
        defer {
            if let info = rootInfo {
                fchmod(tree.rootFD, mode_t(info.mode))
                var times = [info.timespec, info.timespec]
                futimens(tree.rootFD, &times)
            }
        }
        guard !journal.entries.isEmpty else { return outcome }
        try journal.write(in: staging)

        do throws(TransferError) {
            var renames = 0
            func renamed() {
                renames += 1
                if let limit = crashAfterRenames, renames >= limit { kill(getpid(), SIGKILL) }
            }
            for entry in journal.entries {
                switch entry {
                case let .directory(path, index, created, _, _, _):
                    guard created else { continue }
                    if tree.info(path) != nil {
                        try TreeDirectory.rename(tree, path, to: staging, try RelativePath(validating: "old-\(index)"))
                        renamed()
                    }
                    let parent = try tree.openDirectory(path.parent, create: true)
                    defer { close(parent) }
                    guard mkdirat(parent, path.name, 0o700) == 0 || errno == EEXIST else {
                        throw TransferError("mkdir failed: \(FS.errorText())", path: "\(root)/\(path)")
                    }
                    outcome.updated += 1
                case let .replace(path, index):
                    if let existing = tree.info(path) {
                        // A directory in the way moves out whole; a file is simply replaced by the rename.
                        if existing.kind == .directory {
                            try TreeDirectory.rename(tree, path, to: staging, try RelativePath(validating: "old-\(index)"))
                        } else {
                            let parent = try tree.openDirectory(path.parent, create: false)
                            defer { close(parent) }
                            // Keep the old file for a rollback: a hard link costs no copy.
                            guard linkat(parent, path.name, staging.rootFD, "old-\(index)", 0) == 0 else {
                                throw TransferError("cannot keep the old file: \(FS.errorText())", path: "\(root)/\(path)")
                            }
                        }
                    }
                    try TreeDirectory.rename(staging, try RelativePath(validating: "new-\(index)"), to: tree, path, createParents: true)
                    renamed()
                    outcome.written += 1
                case let .remove(path, index):
                    guard tree.info(path) != nil else { continue }
                    try TreeDirectory.rename(tree, path, to: staging, try RelativePath(validating: "old-\(index)"))
                    renamed()
                    outcome.deleted += 1
                case .attributes:
                    break
                }
            }
            for (path, info) in attributes {
                try setAttributes(tree, path, mode: info.mode, seconds: info.mtimeSeconds, nanoseconds: info.mtimeNanoseconds)
                outcome.updated += 1
            }
            // Children first: writing a child changes its directory's time.
            for (path, info) in directories.reversed() {
                try setAttributes(tree, path, mode: info.mode, seconds: info.mtimeSeconds, nanoseconds: info.mtimeNanoseconds)
            }
        } catch {
            try? rollback(journal, tree: tree, staging: staging)
            throw error
        }
        // The commit point: without a journal, there is nothing to roll back.
        unlinkat(staging.rootFD, BatchJournal.fileName, 0)
        return outcome
    }

    /// Undoes a journaled batch, newest entry first. Every step looks at the disk,
    /// so it is right wherever the commit stopped, and safe to run twice.
    private func rollback(_ journal: BatchJournal, tree: TreeDirectory, staging: TreeDirectory) throws(TransferError) {
        func inStaging(_ name: String) -> Bool {
            var st = stat()
            return fstatat(staging.rootFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        }
        for entry in journal.entries.reversed() {
            switch entry {
            case let .replace(path, index):
                // Placed means the new entry left staging; old-<i> is what was there
                // (a hard link to the old file, or the directory that was moved out).
                if !inStaging("new-\(index)") { try tree.removeTree(path) }
                if inStaging("old-\(index)"), tree.info(path) == nil {
                    try TreeDirectory.rename(staging, try RelativePath(validating: "old-\(index)"), to: tree, path)
                }
            case let .remove(path, index):
                if inStaging("old-\(index)") {
                    try TreeDirectory.rename(staging, try RelativePath(validating: "old-\(index)"), to: tree, path)
                }
            case let .directory(path, index, created, oldMode, oldSeconds, oldNanoseconds):
                if created {
                    if tree.info(path)?.kind == .directory { try tree.removeTree(path) }
                    if inStaging("old-\(index)") {
                        try TreeDirectory.rename(staging, try RelativePath(validating: "old-\(index)"), to: tree, path)
                    }
                } else {
                    try? setAttributes(tree, path, mode: oldMode, seconds: oldSeconds, nanoseconds: oldNanoseconds)
                }
            case let .attributes(path, oldMode, oldSeconds, oldNanoseconds):
                try? setAttributes(tree, path, mode: oldMode, seconds: oldSeconds, nanoseconds: oldNanoseconds)
            }
        }
        unlinkat(staging.rootFD, BatchJournal.fileName, 0)
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

    private func setAttributes(_ tree: TreeDirectory, _ path: RelativePath, mode: UInt32, seconds: Int, nanoseconds: Int) throws(TransferError) {
        let parent = try tree.openDirectory(path.parent, create: false)
        defer { close(parent) }
        var st = stat()
        guard fstatat(parent, path.name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if st.st_mode & S_IFMT != S_IFLNK, fchmodat(parent, path.name, mode_t(mode), 0) != 0 {
            throw TransferError("chmod failed: \(FS.errorText())", path: "\(root)/\(path)")
        }
        var times = [timespec(tv_sec: seconds, tv_nsec: nanoseconds), timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
        if utimensat(parent, path.name, &times, AT_SYMLINK_NOFOLLOW) != 0 {
            throw TransferError("setting times failed: \(FS.errorText())", path: "\(root)/\(path)")
        }
    }
}
