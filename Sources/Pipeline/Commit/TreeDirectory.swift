import CLinux
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A directory tree reached only through file descriptors, never through a symlink
/// below its root (planted before or during a batch): paths are resolved by
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` in one call, or, where the kernel
/// lacks it (before 5.6, or a seccomp filter refuses it), one `O_NOFOLLOW` component
/// at a time relative to its parent.
final class TreeDirectory {
    let root: String
    private let rootDescriptor: FileDescriptor
    private let beneath: Bool
    /// The root's descriptor, valid while this object lives.
    var rootFD: Int32 { rootDescriptor.raw }

    /// Opens the root. The root itself comes from configuration and may be a symlink
    /// (`/srv/mirror -> /data/mirror`); nothing below it is followed.
    /// `perComponent` forces the portable walk (tests cover both ways).
    init(_ root: String, perComponent: Bool = false) throws(TransferError) {
        self.root = root
        beneath = TreeDirectory.hasOpenat2 && !perComponent
        do { rootDescriptor = try FileDescriptor(opening: root, O_RDONLY | O_DIRECTORY) } catch {
            throw TransferError(
                "cannot open directory: \(SystemError.text(error.code ?? 0))", path: root, code: error.code)
        }
    }

    /// Opens the directory at `components` (the root for none); creates missing ones
    /// with `mode` when asked. A symlink or non-directory on the way is an error.
    func openDirectory(_ components: ArraySlice<String>, create: Bool, mode: UInt32 = 0o755) throws(TransferError)
        -> FileDescriptor
    {
        if components.isEmpty {
            return try TransferError.wrapping { () throws(SystemError) in try rootDescriptor.duplicate() }
        }
        if beneath {
            let fd = runner_openat_beneath(
                rootFD, components.joined(separator: "/").cPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
            if fd >= 0 { return FileDescriptor(taking: fd) }
            // Missing directories to create: the walk below makes them one by one.
            if errno != ENOENT || !create {
                throw TreeDirectory.unreachable(errno, root + "/" + components.joined(separator: "/"))
            }
        }
        var current = try TransferError.wrapping { () throws(SystemError) in try rootDescriptor.duplicate() }
        var walked = root
        for c in components {
            walked += "/" + c
            var next = openat(current.raw, c.cPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(current.raw, c.cPath, mode_t(mode | 0o700)) != 0, errno != EEXIST {
                    throw TransferError("mkdir failed: \(SystemError.text())", path: walked, code: errno)
                }
                next = openat(current.raw, c.cPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard next >= 0 else { throw TreeDirectory.unreachable(errno, walked) }
            current = FileDescriptor(taking: next)
        }
        return current
    }

    /// Calls `body` with the directory at `components`: the root's own descriptor for the
    /// root (no `dup` per call: a batch of many files asks for it per file), else one opened
    /// for the call.
    func withDirectory<R>(
        _ components: ArraySlice<String>, create: Bool = false, _ body: (Int32) throws(TransferError) -> R
    ) throws(TransferError) -> R {
        if components.isEmpty { return try body(rootFD) }
        let directory = try openDirectory(components, create: create)
        return try body(directory.raw)
    }

    /// Why a directory could not be opened: openat2's EXDEV (out of the tree) reads
    /// like the walk's ELOOP and ENOTDIR.
    private static func unreachable(_ e: Int32, _ path: String) -> TransferError {
        TransferError(
            e == ELOOP || e == ENOTDIR || e == EXDEV
                ? "a symlink or a non-directory is in the way" : SystemError.text(e),
            path: path, code: e)
    }

    /// Whether openat2 works here; asked once.
    static let hasOpenat2: Bool = {
        let fd = runner_openat_beneath(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }()

    /// `fstatat` without following a final symlink; nil when absent (or unreachable).
    func info(_ path: RelativePath) -> FileInfo? {
        var st = stat()
        let found = try? withDirectory(path.parent) { (dir) throws(TransferError) in
            fstatat(dir, path.name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0
        }
        return found == true ? FileInfo(st) : nil
    }

    /// Renames between two trees' entries (same file system), never following symlinks.
    static func rename(
        _ from: TreeDirectory, _ fromPath: RelativePath, to: TreeDirectory, _ toPath: RelativePath,
        createParents: Bool = false
    ) throws(TransferError) {
        try from.withDirectory(fromPath.parent) { (a) throws(TransferError) in
            try to.withDirectory(toPath.parent, create: createParents) { (b) throws(TransferError) in
                guard renameat(a, fromPath.name.cPath, b, toPath.name.cPath) == 0 else {
                    throw TransferError(
                        "rename to \(to.root)/\(toPath) failed: \(SystemError.text())",
                        path: "\(from.root)/\(fromPath)", code: errno)
                }
            }
        }
    }

    /// Removes an entry and, for a directory, everything below it, through descriptors;
    /// `ifPresent`: an entry (or parent) that is not there is no error.
    func removeTree(_ path: RelativePath, ifPresent: Bool = false) throws(TransferError) {
        do {
            let dir = try openDirectory(path.parent, create: false)
            try TransferError.wrapping { () throws(SystemError) in
                try FileSystem.removeEntry(in: dir.raw, path.name, shown: "\(root)/\(path)")
            }
        } catch {
            if ifPresent && error.code == ENOENT { return }
            throw error
        }
    }
}
