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
    /// Owner: user id, or `FileInfo.unchanged` where the owner is left as it is.
    public var uid: UInt32
    /// Owner: group id, or `FileInfo.unchanged`.
    public var gid: UInt32

    /// An owner id that says "leave it as it is" (`chown(2)`'s -1).
    public static let unchanged = UInt32.max

    /// `lstat` of a path, or nil when it does not exist (or cannot be examined).
    public static func lstat(_ path: String) -> FileInfo? {
        var st = stat()
        guard Glibc.lstat(path.cPath, &st) == 0 else { return nil }
        return FileInfo(st)
    }

    /// From its parts (a listing received from a peer has no inode or device).
    public init(
        kind: Kind, mode: UInt32, size: Int64, mtimeSeconds: Int, mtimeNanoseconds: Int, inode: UInt64 = 0,
        device: UInt64 = 0, uid: UInt32 = FileInfo.unchanged, gid: UInt32 = FileInfo.unchanged
    ) {
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.inode = inode
        self.device = device
        self.uid = uid
        self.gid = gid
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
        uid = UInt32(st.st_uid)
        gid = UInt32(st.st_gid)
    }

    /// Same content for the quick check: size and modification time to the nanosecond.
    public func sameContent(as other: FileInfo) -> Bool {
        kind == other.kind && size == other.size && mtimeSeconds == other.mtimeSeconds
            && mtimeNanoseconds == other.mtimeNanoseconds
    }

    /// Whether `wanted`'s owner differs from this one's, where both say one (an id that is
    /// `unchanged` on either side is not compared).
    public func ownerDiffers(from wanted: FileInfo) -> Bool {
        func differs(_ a: UInt32, _ b: UInt32) -> Bool { a != b && a != FileInfo.unchanged && b != FileInfo.unchanged }
        return differs(uid, wanted.uid) || differs(gid, wanted.gid)
    }

    /// The same entry with its owner left as it is (`unchanged`).
    public var ownerless: FileInfo {
        var info = self
        info.uid = FileInfo.unchanged
        info.gid = FileInfo.unchanged
        return info
    }

    /// Whether this process may give files any owner (it runs as root): one that may not
    /// keeps its own ids, as `rsync` run by a user does.
    public static let setsOwners = geteuid() == 0

    /// The entry as this process can give it: with its owner as root, else ownerless.
    public var ownedAsThisProcessCan: FileInfo { FileInfo.setsOwners ? self : ownerless }

    /// The modification time as a `timespec` (for `futimens` and `utimensat`).
    public var timespec: timespec { Glibc.timespec(tv_sec: mtimeSeconds, tv_nsec: mtimeNanoseconds) }
}
