#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A directory tree reached only through file descriptors, never through a symlink
/// below its root (planted before or during a batch): paths are resolved by
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` in one call, or, where the kernel
/// lacks it (before 5.6, or a seccomp filter refuses it), one `O_NOFOLLOW` component
/// at a time relative to its parent.
final class TreeDirectory {
    let root: String
    let rootFD: Int32
    private let beneath: Bool

    /// Opens the root. The root itself comes from configuration and may be a symlink
    /// (`/srv/mirror -> /data/mirror`); nothing below it is followed.
    /// `perComponent` forces the portable walk (tests cover both ways).
    init(_ root: String, perComponent: Bool = false) throws(TransferError) {
        self.root = root
        beneath = TreeDirectory.hasOpenat2 && !perComponent
        rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw TransferError("cannot open directory: \(FS.errorText())", path: root) }
    }

    deinit { close(rootFD) }

    /// Opens the directory at `components` (the root for none); creates missing ones
    /// with `mode` when asked. A symlink or non-directory on the way is an error.
    func openDirectory(_ components: ArraySlice<String>, create: Bool, mode: UInt32 = 0o755) throws(TransferError) -> Int32 {
        if components.isEmpty { return dup(rootFD) }
        if beneath {
            let fd = runner_openat_beneath(rootFD, components.joined(separator: "/"), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
            if fd >= 0 { return fd }
            // Missing directories to create: the walk below makes them one by one.
            if errno != ENOENT || !create { throw TreeDirectory.unreachable(errno, root + "/" + components.joined(separator: "/")) }
        }
        var fd = dup(rootFD)
        var walked = root
        for c in components {
            walked += "/" + c
            var next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(fd, c, mode_t(mode | 0o700)) != 0, errno != EEXIST {
                    let e = FS.errorText()
                    close(fd)
                    throw TransferError("mkdir failed: \(e)", path: walked)
                }
                next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let e = errno
            close(fd)
            guard next >= 0 else { throw TreeDirectory.unreachable(e, walked) }
            fd = next
        }
        return fd
    }

    /// Why a directory could not be opened: openat2's EXDEV (out of the tree) reads
    /// like the walk's ELOOP and ENOTDIR.
    private static func unreachable(_ e: Int32, _ path: String) -> TransferError {
        TransferError(e == ELOOP || e == ENOTDIR || e == EXDEV ? "a symlink or a non-directory is in the way" : String(cString: strerror(e)),
                      path: path)
    }

    /// Whether openat2 works here; asked once.
    static let hasOpenat2: Bool = {
        let fd = runner_openat_beneath(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }()

    /// `fstatat` without following a final symlink; nil when absent (or unreachable).
    func info(_ path: RelativePath) -> FileInfo? {
        guard let dir = try? openDirectory(path.parent, create: false) else { return nil }
        defer { close(dir) }
        var st = stat()
        guard fstatat(dir, path.name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return FileInfo(st)
    }

    /// Renames between two trees' entries (same file system), never following symlinks.
    static func rename(_ from: TreeDirectory, _ fromPath: RelativePath, to: TreeDirectory, _ toPath: RelativePath,
                       createParents: Bool = false) throws(TransferError) {
        let a = try from.openDirectory(fromPath.parent, create: false)
        defer { close(a) }
        let b = try to.openDirectory(toPath.parent, create: createParents)
        defer { close(b) }
        guard renameat(a, fromPath.name, b, toPath.name) == 0 else {
            throw TransferError("rename to \(to.root)/\(toPath) failed: \(FS.errorText())", path: "\(from.root)/\(fromPath)")
        }
    }

    /// Removes an entry and, for a directory, everything below it, through descriptors.
    func removeTree(_ path: RelativePath) throws(TransferError) {
        let dir = try openDirectory(path.parent, create: false)
        defer { close(dir) }
        try TreeDirectory.removeEntry(dir, path.name, shown: "\(root)/\(path)")
    }

    /// Removes `name` in the directory `dir` (recursively, never following a symlink); absent is fine.
    static func removeEntry(_ dir: Int32, _ name: String, shown: String) throws(TransferError) {
        var st = stat()
        guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            let fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw TransferError("open failed: \(FS.errorText())", path: shown) }
            guard let d = fdopendir(fd) else {
                close(fd)
                throw TransferError("opendir failed: \(FS.errorText())", path: shown)
            }
            var names: [String] = []
            while let entry = readdir(d) {
                let n = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if n != "." && n != ".." { names.append(n) }
            }
            for n in names { try removeEntry(fd, n, shown: shown + "/" + n) }
            closedir(d)
            guard unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
                throw TransferError("rmdir failed: \(FS.errorText())", path: shown)
            }
        } else {
            guard unlinkat(dir, name, 0) == 0 || errno == ENOENT else {
                throw TransferError("unlink failed: \(FS.errorText())", path: shown)
            }
        }
    }
}
