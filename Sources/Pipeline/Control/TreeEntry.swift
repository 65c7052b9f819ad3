import RunnerSystem

/// One path of a revision's manifest: what the pipeline sends there. A file is its content's
/// hash with its mode, owner, size and times; a directory is its own tree object's hash with its
/// mode and times; a symlink is its destination (never followed).
public struct TreeEntry: Sendable, Equatable {
    /// The kinds a manifest holds (devices, FIFOs and sockets are never sent).
    public enum Kind: UInt8, Sendable { case file = 0, directory = 1, symlink = 2 }

    public var kind: Kind
    /// Permission bits (`st_mode & 07777`).
    public var mode: UInt32
    /// A file's size; a symlink's destination length; 0 for a directory.
    public var size: Int64
    public var mtimeSeconds: Int
    public var mtimeNanoseconds: Int
    /// A file's content, or a directory's tree object; zero for a symlink.
    public var hash: ContentHash
    /// A symlink's destination; empty otherwise.
    public var link: String
    /// Owner ids on the source host (`FileInfo.unchanged` in a manifest from before owners).
    public var uid: UInt32
    public var gid: UInt32

    /// An entry.
    public init(
        kind: Kind, mode: UInt32, size: Int64, mtimeSeconds: Int, mtimeNanoseconds: Int, hash: ContentHash,
        link: String = "", uid: UInt32 = FileInfo.unchanged, gid: UInt32 = FileInfo.unchanged
    ) {
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.hash = hash
        self.link = link
        self.uid = uid
        self.gid = gid
    }

    /// An entry for what `lstat` said, with its content's (or tree's) hash.
    init?(_ info: FileInfo, hash: ContentHash, link: String = "") {
        let kind: Kind
        switch info.kind {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink: kind = .symlink
        case .other: return nil
        }
        self.init(
            kind: kind, mode: info.mode, size: kind == .directory ? 0 : info.size, mtimeSeconds: info.mtimeSeconds,
            mtimeNanoseconds: info.mtimeNanoseconds, hash: hash, link: link, uid: info.uid, gid: info.gid)
    }

    /// As the planner and the targets see an entry of the source.
    public var info: FileInfo {
        let kind: FileInfo.Kind
        switch self.kind {
        case .file: kind = .file
        case .directory: kind = .directory
        case .symlink: kind = .symlink
        }
        return FileInfo(
            kind: kind, mode: mode, size: size, mtimeSeconds: mtimeSeconds, mtimeNanoseconds: mtimeNanoseconds,
            uid: uid, gid: gid)
    }

    /// Whether what `lstat` says now is what this entry was made from (the quick check: kind,
    /// mode, owner, size, and mtime to the nanosecond). A directory's size says nothing.
    func matches(_ info: FileInfo) -> Bool {
        guard let same = TreeEntry(info, hash: hash, link: link) else { return false }
        return same.kind == kind && same.mode == mode && same.mtimeSeconds == mtimeSeconds
            && same.mtimeNanoseconds == mtimeNanoseconds && (kind == .directory || same.size == size)
            && same.uid == uid && same.gid == gid
    }

    /// The same entry with everything but the tree it holds compared (a directory whose
    /// files changed is the same directory).
    func sameExceptContent(_ other: TreeEntry) -> Bool {
        kind == other.kind && mode == other.mode && mtimeSeconds == other.mtimeSeconds
            && mtimeNanoseconds == other.mtimeNanoseconds && size == other.size && link == other.link
            && uid == other.uid && gid == other.gid
    }
}
