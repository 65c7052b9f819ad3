#if canImport(Glibc)
import Glibc
#endif

/// What `lstat(2)` says about a path, reduced to what syncing compares.
public struct FileInfo: Sendable, Equatable {
    /// The kinds of file a tree can hold.
    public enum Kind: Sendable, Equatable { case file, directory, symlink, other }

    /// The kind of file.
    public var kind: Kind
    /// Permission bits, including setuid, setgid and sticky (`st_mode & 07777`).
    public var mode: UInt32
    /// Size in bytes.
    public var size: Int64
    /// Modification time, seconds.
    public var mtimeSeconds: Int
    /// Modification time, nanoseconds within the second.
    public var mtimeNanoseconds: Int
    /// Inode number.
    public var inode: UInt64
    /// Device number.
    public var device: UInt64

    /// `lstat` of a path, or nil when it does not exist (or cannot be examined).
    public static func lstat(_ path: String) -> FileInfo? {
        var st = stat()
        guard Glibc.lstat(path, &st) == 0 else { return nil }
        return FileInfo(st)
    }

    /// From its parts (a listing received from a peer has no inode or device).
    public init(kind: Kind, mode: UInt32, size: Int64, mtimeSeconds: Int, mtimeNanoseconds: Int, inode: UInt64 = 0, device: UInt64 = 0) {
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.inode = inode
        self.device = device
    }

    /// From a `stat` structure.
    public init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        mode = UInt32(st.st_mode & 0o7777)
        size = Int64(st.st_size)
        mtimeSeconds = st.st_mtim.tv_sec
        mtimeNanoseconds = st.st_mtim.tv_nsec
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
    }

    /// Same content for the quick check: size and modification time to the nanosecond.
    public func sameContent(as other: FileInfo) -> Bool {
        kind == other.kind && size == other.size && mtimeSeconds == other.mtimeSeconds
            && mtimeNanoseconds == other.mtimeNanoseconds
    }

    var timespec: timespec { Glibc.timespec(tv_sec: mtimeSeconds, tv_nsec: mtimeNanoseconds) }
}

/// Small file-system helpers on paths, reporting errors with the path.
enum FS {
    static func errorText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    /// Entry names of a directory (without `.` and `..`), sorted; empty when unreadable.
    static func list(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A regular file we may execute.
    static func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buf, buf.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buf[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes a path and, for a directory, everything below it. Symlinks are removed, not followed.
    static func removeTree(_ path: String) throws(TransferError) {
        guard let slash = path.lastIndex(of: "/") else { throw TransferError("not an absolute path", path: path) }
        let parent = path[..<slash].isEmpty ? "/" : String(path[..<slash])
        let dir = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else {
            if errno == ENOENT { return }
            throw TransferError("open failed: \(errorText())", path: parent)
        }
        defer { close(dir) }
        try TreeDirectory.removeEntry(dir, String(path[path.index(after: slash)...]), shown: path)
    }

    /// `mkdir -p` with a mode for what it creates.
    static func makeDirectories(_ path: String, mode: UInt32) throws(TransferError) {
        if FileInfo.lstat(path)?.kind == .directory { return }
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if FileInfo.lstat(prefix)?.kind == .directory { continue }
            guard mkdir(prefix, mode_t(mode | 0o700)) == 0 || errno == EEXIST else {
                throw TransferError("mkdir failed: \(errorText())", path: prefix)
            }
        }
    }

    /// Copies the rest of `input` to `output` with read/write.
    static func copyByReading(_ input: Int32, _ output: Int32, path: String) throws(TransferError) -> Int64 {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var total: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransferError("read failed: \(errorText())", path: path)
            }
            if n == 0 { return total }
            var done = 0
            while done < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + done, n - done) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw TransferError("write failed: \(errorText())", path: path)
                }
                done += w
            }
            total += Int64(n)
        }
    }

    static func join(_ base: String, _ relative: String) -> String {
        relative.isEmpty ? base : base + "/" + relative
    }
}

/// A transfer failure, naming the path and what failed.
public struct TransferError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String
    /// The path concerned.
    public var path: String

    /// A transfer error.
    public init(_ message: String, path: String) {
        self.message = message
        self.path = path
    }

    public var description: String { "\(path): \(message)" }
}
