#if canImport(Glibc)
import Glibc
#endif

/// A `file://` target: a directory on this host, updated through a staging
/// directory beside it (same file system, outside the tree) and `rename(2)`, so a
/// reader of the target sees each file either old or new, never half-written.
public final class LocalTarget {
    /// The target directory, absolute.
    public let root: String
    /// Where files are staged before they are renamed into place.
    public let stagingRoot: String
    private var batchCounter = 0

    /// A local target. Leftover staging from an earlier run is removed.
    public init(root: String) {
        self.root = root
        let slash = root.lastIndex(of: "/")!
        let parent = root[..<slash].isEmpty ? "/" : String(root[..<slash])
        let name = root[root.index(after: slash)...]
        stagingRoot = (parent == "/" ? "" : parent) + "/.\(name).runner-staging"
        try? FS.removeTree(stagingRoot)
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

    /// Applies a plan: stages every file, then renames them in, then deletes, then
    /// sets directory modes and times (children first, since writing a child changes
    /// its directory's time). `cancelled` is asked before the first rename: a
    /// cancelled batch leaves the target untouched and no staging behind.
    public func apply(_ plan: SyncPlan, from source: String, cancelled: () -> Bool = { false }) throws(TransferError) -> Outcome {
        var outcome = Outcome()
        try makeDirectories(root, mode: FileInfo.lstat(source)?.mode ?? 0o755)
        batchCounter += 1
        let staging = stagingRoot + "/batch-\(getpid())-\(batchCounter)"
        try makeDirectories(staging, mode: 0o700)
        defer {
            try? FS.removeTree(staging)
            rmdir(stagingRoot)  // only when empty: another batch may be staging
        }

        // Stage.
        var staged: [(path: String, file: String)] = []
        for (index, op) in plan.operations.enumerated() {
            let stagedFile = staging + "/\(index)"
            switch op {
            case .copy(let path, _):
                if let bytes = try stageCopy(from: FS.join(source, path), to: stagedFile) {
                    outcome.bytes += bytes
                    staged.append((path, stagedFile))
                } else {
                    outcome.retry.append(path)
                }
            case .symlink(let path, let destination, let info):
                guard symlink(destination, stagedFile) == 0 else {
                    throw TransferError("symlink failed: \(FS.errorText())", path: stagedFile)
                }
                var times = [info.timespec, info.timespec]
                utimensat(AT_FDCWD, stagedFile, &times, AT_SYMLINK_NOFOLLOW)
                staged.append((path, stagedFile))
            default:
                break
            }
        }
        if cancelled() { throw TransferError("batch abandoned before commit (shutdown)", path: root) }

        // Commit.
        var directories: [(String, FileInfo)] = []
        for op in plan.operations {
            if case .directory(let path, let info) = op {
                let full = FS.join(root, path)
                if let existing = FileInfo.lstat(full), existing.kind != .directory { try FS.removeTree(full) }
                try makeParents(of: path, source: source)
                if FileInfo.lstat(full) == nil, mkdir(full, mode_t(info.mode | 0o700)) != 0 {
                    throw TransferError("mkdir failed: \(FS.errorText())", path: full)
                }
                directories.append((path, info))
                outcome.updated += 1
            }
        }
        for (path, file) in staged {
            let full = FS.join(root, path)
            try makeParents(of: path, source: source)
            if let existing = FileInfo.lstat(full), existing.kind == .directory { try FS.removeTree(full) }
            guard rename(file, full) == 0 else { throw TransferError("rename into place failed: \(FS.errorText())", path: full) }
            outcome.written += 1
        }
        for op in plan.operations {
            switch op {
            case .attributes(let path, let info):
                try setAttributes(FS.join(root, path), info)
                outcome.updated += 1
            case .delete(let path):
                try FS.removeTree(FS.join(root, path))
                outcome.deleted += 1
            default:
                break
            }
        }
        for (path, info) in directories.reversed() { try setAttributes(FS.join(root, path), info) }
        return outcome
    }

    /// Copies a file into staging with the source's mode and times. Returns nil when
    /// the source changed while it was read (or vanished): it must not be shipped torn.
    private func stageCopy(from path: String, to staged: String) throws(TransferError) -> Int64? {
        let input = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else {
            if errno == ENOENT || errno == ELOOP { return nil }
            throw TransferError("open failed: \(FS.errorText())", path: path)
        }
        defer { close(input) }
        var before = stat()
        fstat(input, &before)
        let output = open(staged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw TransferError("create in staging failed: \(FS.errorText())", path: staged) }
        defer { close(output) }
        var total: Int64 = 0
        while true {
            let n = sendfile(output, input, nil, 1 << 30)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP {
                    total += try copyByReading(input, output, path: path)
                    break
                }
                throw TransferError("copy failed: \(FS.errorText())", path: path)
            }
            if n == 0 { break }
            total += Int64(n)
        }
        var after = stat()
        fstat(input, &after)
        let a = FileInfo(before), b = FileInfo(after)
        guard a == b, b.size == total else { return nil }
        fchmod(output, mode_t(b.mode))
        var times = [b.timespec, b.timespec]
        futimens(output, &times)
        return total
    }

    private func copyByReading(_ input: Int32, _ output: Int32, path: String) throws(TransferError) -> Int64 {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransferError("read failed: \(FS.errorText())", path: path)
            }
            if n == 0 { return total }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw TransferError("write failed: \(FS.errorText())", path: path)
                }
                done += w
            }
            total += Int64(n)
        }
    }

    private func setAttributes(_ full: String, _ info: FileInfo) throws(TransferError) {
        if info.kind != .symlink, chmod(full, mode_t(info.mode)) != 0 {
            throw TransferError("chmod failed: \(FS.errorText())", path: full)
        }
        var times = [info.timespec, info.timespec]
        if utimensat(AT_FDCWD, full, &times, AT_SYMLINK_NOFOLLOW) != 0 {
            throw TransferError("setting times failed: \(FS.errorText())", path: full)
        }
    }

    /// Creates the target's missing parent directories of `path`, with the source's modes;
    /// a non-directory in the way is replaced.
    private func makeParents(of path: String, source: String) throws(TransferError) {
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
            let full = FS.join(root, prefix)
            if let existing = FileInfo.lstat(full) {
                if existing.kind == .directory { continue }
                try FS.removeTree(full)
            }
            let mode = FileInfo.lstat(FS.join(source, prefix))?.mode ?? 0o755
            guard mkdir(full, mode_t(mode | 0o700)) == 0 || errno == EEXIST else {
                throw TransferError("mkdir failed: \(FS.errorText())", path: full)
            }
        }
    }

    private func makeDirectories(_ path: String, mode: UInt32) throws(TransferError) {
        if FileInfo.lstat(path)?.kind == .directory { return }
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if FileInfo.lstat(prefix)?.kind == .directory { continue }
            guard mkdir(prefix, mode_t(mode | 0o700)) == 0 || errno == EEXIST else {
                throw TransferError("mkdir failed: \(FS.errorText())", path: prefix)
            }
        }
    }
}
