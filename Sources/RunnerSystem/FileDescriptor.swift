#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor this value owns: it is closed when the value goes away, so no path
/// through a function leaks it or closes it twice.
public struct FileDescriptor: ~Copyable {
    /// The descriptor, for system calls; valid while this value lives.
    public let raw: Int32

    /// Takes ownership of a descriptor that is open.
    public init(taking raw: Int32) { self.raw = raw }

    /// Opens a path (`O_CLOEXEC` is always added).
    public init(opening path: String, _ flags: Int32, mode: mode_t = 0) throws(SystemError) {
        let fd = Glibc.open(path.cPath, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        raw = fd
    }

    /// Opens `name` relative to a directory descriptor (`O_CLOEXEC` is always added);
    /// `shown` is the path errors name.
    public init(at directory: Int32, _ name: String, _ flags: Int32, mode: mode_t = 0, shown: String)
        throws(SystemError)
    {
        let fd = openat(directory, name.cPath, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", path: shown) }
        raw = fd
    }

    /// A second descriptor for the same open file.
    public func duplicate() throws(SystemError) -> FileDescriptor {
        let fd = dup(raw)
        guard fd >= 0 else { throw SystemError("dup") }
        return FileDescriptor(taking: fd)
    }

    /// Gives the descriptor up without closing it (to `fdopendir`, which closes it).
    public consuming func release() -> Int32 {
        let fd = raw
        discard self
        return fd
    }

    deinit { close(raw) }
}
