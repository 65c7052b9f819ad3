import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The tree a batch is sent from: a revision of the pipeline (its manifest over the content
/// store, with a host's rendered templates, `RevisionTree`), or a directory as it is now
/// (`SourceDirectory`: `--dry-run`'s diffs, `runner delta`, tests). The planner walks it;
/// the targets read each file's content and the entry to give it through `open`.
public protocol SourceTree {
    /// The entry at `path` (not following a final symlink), or nil. A revision whose
    /// manifest cannot be read throws: its paths are not absent.
    func info(_ path: String) throws -> FileInfo?
    /// The entries of a directory with what `info` says of each, sorted by name.
    func entries(_ path: String) throws -> [(name: String, info: FileInfo)]
    /// A symlink's destination.
    func readLink(_ path: String) throws -> String?
    /// A regular file's content, open, with the entry the target gets; nil when it is gone.
    func open(_ path: String) throws -> SourceContent?
    /// Whether size and mtime say nothing of this file's bytes (a template rendered for the
    /// host keeps its template's times): the target's copy is compared by content.
    func comparesContent(_ path: String) -> Bool
    /// The tree as a directory on disk, when it is one (rsync reads from it).
    var directory: String? { get }
}

extension SourceTree {
    /// What names the content of the file at `path` (`SourceContent.identity`).
    func identity(_ path: String) -> String? {
        guard let content = try? open(path) else { return nil }
        return content.identity
    }
}

/// A file's content, open for reading, and the entry a target gets for it.
public struct SourceContent: ~Copyable {
    /// The content.
    public let file: FileDescriptor
    /// Mode, size and times to give the target's copy.
    public let info: FileInfo
    /// The path errors name.
    public let shown: String
    /// Whether the file can change while it is read (a live directory's, not a stored revision's).
    let live: Bool

    /// Content and its entry; `live` when the file may be written meanwhile.
    public init(file: consuming FileDescriptor, info: FileInfo, shown: String, live: Bool) {
        self.file = file
        self.info = info
        self.shown = shown
        self.live = live
    }

    /// What names the content whatever its path, for sharing what is made of it (a delta):
    /// a stored object's; nil for a live file, whose bytes may change.
    var identity: String? { live ? nil : shown }

    /// Whether the file still has the size and times it had when opened: a live file that
    /// changed while it was read must not be shipped torn.
    public func heldStill() -> Bool {
        guard live else { return true }
        var st = stat()
        return fstat(file.raw, &st) == 0 && FileInfo(st) == info
    }
}

/// A directory as it is now: every look is a system call, and a file that changes while it
/// is read is sent again later.
public struct SourceDirectory: SourceTree, Sendable, Equatable {
    /// The directory, absolute.
    public let root: String

    /// The directory at `root`.
    public init(root: String) { self.root = root }

    public func info(_ path: String) -> FileInfo? { FileInfo.lstat(FileSystem.join(root, path)) }

    public func entries(_ path: String) -> [(name: String, info: FileInfo)] {
        let full = FileSystem.join(root, path)
        guard let directory = try? FileDescriptor(opening: full, O_RDONLY | O_DIRECTORY) else { return [] }
        return DirectoryEntries.withInfo(of: directory, shown: full)
    }

    public func readLink(_ path: String) -> String? { FileSystem.readLink(FileSystem.join(root, path)) }

    public func open(_ path: String) -> SourceContent? {
        let full = FileSystem.join(root, path)
        // Gone or replaced by a symlink since the plan: a later batch has it.
        guard let file = try? FileDescriptor(opening: full, O_RDONLY | O_NOFOLLOW) else { return nil }
        var st = stat()
        guard fstat(file.raw, &st) == 0, FileInfo(st).kind == .file else { return nil }
        return SourceContent(file: file, info: FileInfo(st), shown: full, live: true)
    }

    public func comparesContent(_ path: String) -> Bool { false }

    public var directory: String? { root }
}
