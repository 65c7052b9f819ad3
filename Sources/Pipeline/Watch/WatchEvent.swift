/// A change the watcher saw, as a path relative to the watched root.
public struct WatchEvent: Sendable, Equatable {
    /// What happened to the path.
    public enum Kind: Sendable, Equatable {
        /// Written and closed, moved in, or a directory created: complete, ready to send.
        case written
        /// A non-directory appeared; a writer may still be filling it (wait for close or stability).
        case created
        /// Data written by a writer that has not closed the file yet.
        case modified
        /// Removed, or moved out of the tree.
        case deleted
        /// Moved within the tree; `path` is the new name.
        case moved(from: String)
        /// Mode, owner or times changed.
        case attributes
        /// The kernel queue overflowed: anything may have changed; rescan everything.
        case overflow
    }

    /// The path, relative to the root (empty for the root itself or an overflow).
    public var path: String
    /// What happened.
    public var kind: Kind
    /// Whether the path is a directory.
    public var isDirectory: Bool

    /// An event.
    public init(path: String, kind: Kind, isDirectory: Bool) {
        self.path = path
        self.kind = kind
        self.isDirectory = isDirectory
    }
}
