import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// File-system helpers on paths and directory descriptors; failures are `SystemError`s
/// naming the path. Symlinks are never followed below the path given.
public enum FileSystem {
    /// `base/relative`, or `base` for the empty relative path.
    public static func join(_ base: String, _ relative: String) -> String {
        relative.isEmpty ? base : base + "/" + relative
    }

    /// A regular file we may execute.
    public static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    /// A symlink's destination, or nil when the path is not a readable symlink.
    public static func readLink(_ path: String) -> String? {
        readLink(at: AT_FDCWD, path)
    }

    /// The destination of the symlink `name` in the directory `directory`.
    public static func readLink(at directory: Int32, _ name: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(directory, name.cPath, &buf, buf.count - 1)
        guard n >= 0 else { return nil }
        return FileName.decode(buf[..<n].map { UInt8(bitPattern: $0) })
    }

    /// Removes an absolute path and, for a directory, everything below it. Symlinks are
    /// removed, not followed; an absent path is fine.
    public static func removeTree(_ path: String) throws(SystemError) {
        guard let slash = path.lastIndex(of: "/") else {
            throw SystemError("remove (not an absolute path)", path: path, code: nil)
        }
        let parent = path[..<slash].isEmpty ? "/" : String(path[..<slash])
        let directory: FileDescriptor
        do { directory = try FileDescriptor(opening: parent, O_RDONLY | O_DIRECTORY) } catch {
            if error.code == ENOENT { return }
            throw error
        }
        try removeEntry(in: directory.raw, String(path[path.index(after: slash)...]), shown: path)
    }

    /// Removes `name` in the directory `directory` (recursively, never following a
    /// symlink); absent is fine. `shown` is the path errors name.
    public static func removeEntry(in directory: Int32, _ name: String, shown: String) throws(SystemError) {
        var st = stat()
        guard fstatat(directory, name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            let child = try FileDescriptor(at: directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, shown: shown)
            // It goes anyway: a directory its owner cannot write (0555) must not keep its entries.
            if st.st_mode & 0o700 != 0o700 { fchmod(child.raw, st.st_mode & 0o7777 | 0o700) }
            try removeContents(of: child.raw, shown: shown)
            guard unlinkat(directory, name.cPath, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                throw SystemError("rmdir", path: shown)
            }
        } else {
            guard unlinkat(directory, name.cPath, 0) == 0 || errno == ENOENT else {
                throw SystemError("unlink", path: shown)
            }
        }
    }

    /// Removes everything in the directory open as `directory`, which stays. Read through a
    /// descriptor of its own: a `dup` would share (and leave at the end) the offset of one
    /// the caller reads again.
    public static func removeContents(of directory: Int32, shown: String) throws(SystemError) {
        let listing = try FileDescriptor(at: directory, ".", O_RDONLY | O_DIRECTORY, shown: shown)
        for n in try DirectoryEntries.names(of: listing) { try removeEntry(in: directory, n, shown: shown + "/" + n) }
    }

    /// Writes `bytes` to `temporary` (made 0600, never through a symlink), gives it `mode`
    /// and renames it over `path`: a reader sees the old file or the new one, never a part.
    public static func replace(_ path: String, with bytes: [UInt8], temporary: String, mode: UInt32)
        throws(SystemError)
    {
        let file = try FileDescriptor(opening: temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
        let written = bytes.withUnsafeBytes { write(file.raw, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw SystemError("write", path: temporary) }
        fchmod(file.raw, mode_t(mode))
        guard rename(temporary.cPath, path.cPath) == 0 else { throw SystemError("rename", path: path) }
    }

    /// `mkdir -p`, with `mode` (plus owner rwx) for what it creates.
    public static func makeDirectories(_ path: String, mode: UInt32) throws(SystemError) {
        if FileInfo.lstat(path)?.kind == .directory { return }
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if FileInfo.lstat(prefix)?.kind == .directory { continue }
            guard mkdir(prefix.cPath, mode_t(mode | 0o700)) == 0 || errno == EEXIST else {
                throw SystemError("mkdir", path: prefix)
            }
        }
    }

    /// Copies `input` from `offset` to its end into `output` (`input`'s own offset is left
    /// alone): `sendfile`, or read and write where the file systems refuse it. Returns the
    /// bytes copied; `path` is what errors name.
    public static func copy(from input: Int32, offset: Int64 = 0, to output: Int32, path: String) throws(SystemError)
        -> Int64
    {
        var position = off_t(offset)
        while true {
            let n = sendfile(output, input, &position, 1 << 30)
            if n > 0 { continue }
            if n == 0 { return Int64(position) - offset }
            if errno == EINTR { continue }
            guard errno == EINVAL || errno == ENOSYS else { throw SystemError("copy", path: path) }
            return Int64(position) - offset
                + (try copyByReading(from: input, at: Int64(position), to: output, path: path))
        }
    }

    /// Makes the empty file `output` a copy of `input`'s first `size` bytes without
    /// passing them through user space: a reflink clone where the file system has them
    /// (FICLONE: xfs, btrfs; nothing is written), else `copy_file_range` when `orCopy`.
    /// False when neither was done (`output` may then hold part of a copy: the caller
    /// truncates or discards it).
    public static func clone(_ input: Int32, into output: Int32, size: Int64, orCopy: Bool) -> Bool {
        if runner_clone_file(output, input) == 0 { return true }
        guard orCopy else { return false }
        var done: Int64 = 0
        while done < size {
            let n = runner_copy_file_range(input, done, output, done, UInt(min(size - done, 1 << 30)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += Int64(n)
        }
        return true
    }

    private static func copyByReading(from input: Int32, at offset: Int64, to output: Int32, path: String)
        throws(SystemError) -> Int64
    {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, $0.count, off_t(offset + total)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { return total }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw SystemError("write", path: path)
                }
                done += w
            }
            total += Int64(n)
        }
    }

    /// Where `path` leads, every symlink on the way followed; nil when it leads nowhere.
    public static func realPath(_ path: String) -> String? {
        guard let real = realpath(path.cPath, nil) else { return nil }
        defer { free(real) }
        return FileName.decode(UnsafeRawBufferPointer(start: real, count: strlen(real)))
    }

    /// Whether the open file `a` (read from its start; its offset is left alone) and the
    /// regular file at `b` (not through a final symlink) hold the same bytes; false when
    /// either cannot be read.
    public static func sameContent(_ a: Int32, _ b: String) -> Bool {
        let fb = open(b.cPath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        defer { if fb >= 0 { close(fb) } }
        guard fb >= 0 else { return false }
        var left = [UInt8](repeating: 0, count: 1 << 16), right = left
        var offset: off_t = 0
        while true {
            let n = pread(a, &left, left.count, offset)
            guard n >= 0 else { return false }
            var m = 0
            while m < n {
                let got = right.withUnsafeMutableBytes { read(fb, $0.baseAddress! + m, n - m) }
                guard got > 0 else { return false }
                m += got
            }
            if n == 0 { return read(fb, &right, 1) == 0 }
            if memcmp(left, right, n) != 0 { return false }
            offset += off_t(n)
        }
    }
}
