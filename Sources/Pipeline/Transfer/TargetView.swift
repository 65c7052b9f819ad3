import RunnerSystem

/// What the planner needs to know of a target tree: a local directory, or the
/// listing a receiver sent (or sends as the walk goes: its errors are the wire's).
/// Paths are relative to the target root.
public protocol TargetView {
    /// The entry at a path (not following a final symlink), or nil.
    func info(_ path: String) throws -> FileInfo?
    /// Names in a directory, sorted.
    func list(_ path: String) throws -> [String]
    /// A symlink's destination.
    func readLink(_ path: String) throws -> String?
}

/// A target directory on this host. Its owners are compared only by a process that may set
/// them (root).
struct LocalTreeView: TargetView {
    let root: String
    func info(_ path: String) -> FileInfo? { FileInfo.lstat(FileSystem.join(root, path))?.ownedAsThisProcessCan }
    func list(_ path: String) -> [String] { DirectoryEntries.sorted(at: FileSystem.join(root, path)) }
    func readLink(_ path: String) -> String? { FileSystem.readLink(FileSystem.join(root, path)) }
}
