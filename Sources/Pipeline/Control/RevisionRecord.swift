import FoundationEssentials

/// One revision of a pipeline's source, as the log keeps it (`revisions/<number>`, JSON):
/// immutable once written. Its manifest is the tree object `root` names; the changed paths
/// are kept for people (the first 100 and a count), while deliveries diff manifests.
public struct RevisionRecord: Codable, Sendable, Equatable {
    /// 1, 2, 3, …: the pipeline's revision numbers never go back, across restarts.
    public var number: Int
    /// The revision this one was cut from (nil for the first).
    public var parent: Int?
    /// The root directory: its tree object (hex), mode and times.
    public var root: String
    public var rootMode: UInt32
    public var rootSeconds: Int
    public var rootNanoseconds: Int
    /// Wall-clock seconds since the epoch when it was cut.
    public var time: Double
    /// Who cut it: `user@host` of the sender.
    public var author: String
    /// Paths that changed from the parent (directories new or gone count as one), the first 100.
    public var changed: [String]
    /// How many paths changed.
    public var changedCount: Int
    /// Why it was cut when not by a watched change: `start`, `rescan`, `source replaced`,
    /// `rollback to N`.
    public var note: String?
    /// The one group it was cut for (a rollback); nil: every group of the pipeline.
    public var group: String?
    /// Files and symlinks in the tree (nil in a record written before they were counted).
    public var files: Int?

    /// Paths a record lists before it only counts them.
    static let listedPaths = 100

    /// The root directory's entry.
    public var rootEntry: TreeEntry? {
        guard let hash = ContentHash(hex: root) else { return nil }
        return TreeEntry(
            kind: .directory, mode: rootMode, size: 0, mtimeSeconds: rootSeconds, mtimeNanoseconds: rootNanoseconds,
            hash: hash)
    }
}
