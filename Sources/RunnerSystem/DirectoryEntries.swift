#if canImport(Glibc)
    import Glibc
#endif

/// The entries of a directory, without `.` and `..`: the one place `readdir` and its
/// fixed-size `d_name` are decoded.
public enum DirectoryEntries {
    /// One entry: its name, and its kind when the file system says it (`d_type`).
    public struct Entry: Sendable {
        /// The entry's name.
        public var name: String
        /// Its kind; nil when the file system does not tell (`DT_UNKNOWN`): ask `lstat`.
        public var kind: FileInfo.Kind?
    }

    /// The entries of the directory open as `directory` (which this consumes), unsorted.
    public static func entries(of directory: consuming FileDescriptor) throws(SystemError) -> [Entry] {
        let fd = directory.release()
        guard let stream = fdopendir(fd) else {
            let error = SystemError("opendir")
            close(fd)
            throw error
        }
        defer { closedir(stream) }
        var entries: [Entry] = []
        while let entry = readdir(stream) {
            // Read up to its NUL in place: a record is only as long as its name (`d_reclen`),
            // so copying the 256-byte `d_name` reads past the last record of the buffer
            // (AddressSanitizer's heap-buffer-overflow).
            let start = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
            let name = FileName.decode(
                UnsafeRawBufferPointer(start: start, count: strlen(start.assumingMemoryBound(to: CChar.self))))
            guard name != "." && name != ".." else { continue }
            let kind: FileInfo.Kind?
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_REG): kind = .file
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symlink
            case Int32(DT_UNKNOWN): kind = nil
            default: kind = .other
            }
            entries.append(Entry(name: name, kind: kind))
        }
        return entries
    }

    /// The names in the directory open as `directory` (which this consumes), unsorted.
    public static func names(of directory: consuming FileDescriptor) throws(SystemError) -> [String] {
        try entries(of: directory).map(\.name)
    }

    /// The entries of the directory open as `directory`, each with its `lstat` (one gone
    /// since the listing is left out), sorted by name: `fstatat` beside the directory costs
    /// no walk of the path per entry.
    public static func withInfo(of directory: borrowing FileDescriptor, shown: String) -> [(
        name: String, info: FileInfo
    )] {
        guard let listing = try? FileDescriptor(at: directory.raw, ".", O_RDONLY | O_DIRECTORY, shown: shown),
            let names = try? names(of: listing)
        else { return [] }
        var st = stat()
        return names.sorted().compactMap { name in
            fstatat(directory.raw, name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (name, FileInfo(st)) : nil
        }
    }

    /// The entries of the directory at `path`; empty when it cannot be read.
    public static func entries(at path: String) -> [Entry] {
        guard let directory = try? FileDescriptor(opening: path, O_RDONLY | O_DIRECTORY) else { return [] }
        return (try? entries(of: directory)) ?? []
    }

    /// The names in the directory at `path`, sorted; empty when it cannot be read.
    public static func sorted(at path: String) -> [String] {
        entries(at: path).map(\.name).sorted()
    }
}
