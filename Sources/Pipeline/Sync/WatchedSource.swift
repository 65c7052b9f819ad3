import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where a pipeline's `source` leads: a release flipped by a symlink (`current ->
/// releases/N`, replaced with `mv -T`) or a directory swapped for another one is the same
/// inode-replacement problem as a file replaced by rename, one level up. The configured path
/// is resolved (through every symlink on the way) to the directory watched; its parent is
/// watched for the source's own name, so that a flip is seen at once, and the resolution is
/// checked again every second for an ancestor replaced further up.
struct WatchedSource {
    /// The directory as configured (`/srv/app/current`), and its last name (`current`).
    let configured: String
    private let name: String
    /// The directory it led to when last looked at, and that directory's identity.
    private(set) var path: String
    private var device: UInt64
    private var inode: UInt64
    /// The configured path's parent, watched for its name (nil when it cannot be watched).
    private(set) var parent: InotifyWatcher?
    /// When to look again.
    var checkAt: Double
    /// The source is missing: said once, until it is back.
    var missing = false

    /// Interval between two looks.
    static let interval = 1.0

    /// The source at `configured`, resolved now; nil when it leads to no directory.
    init?(_ configured: String, now: Double) {
        guard let resolved = Self.resolve(configured) else { return nil }
        self.configured = configured
        (path, device, inode) = resolved
        checkAt = now + Self.interval
        let directory: String
        (directory, name) = RelativePath.split(configured)
        // Only the parent itself: its other entries (a release directory each) are not ours to watch.
        parent = try? InotifyWatcher(root: directory.isEmpty ? "/" : directory) { _ in false }
    }

    /// Where `configured` leads now, and that directory's device and inode.
    static func resolve(_ configured: String) -> (String, UInt64, UInt64)? {
        guard let path = FileSystem.realPath(configured) else { return nil }
        var st = stat()
        guard stat(path.cPath, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return nil }
        return (path, UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Whether anything happened to the source's name in the parent directory, or to the
    /// parent itself (its events are read and dropped: a look at the source says what). The
    /// parent's other files (a log beside the source) are not a reason to look.
    mutating func parentChanged() -> Bool {
        guard let parent else { return false }
        return ((try? parent.read()) ?? []).contains { event in
            switch event.kind {
            case .moved(let from): event.path == name || from == name
            case .overflow: true
            default: event.path == name || event.path.isEmpty
            }
        }
    }

    /// Looks at where the source leads now: the new directory when it is another one (or the
    /// same path with a new directory there), nil when nothing changed or it is missing.
    mutating func look(now: Double) -> String? {
        checkAt = now + Self.interval
        guard let (newPath, newDevice, newInode) = Self.resolve(configured) else {
            missing = true
            return nil
        }
        missing = false
        guard newPath != path || newDevice != device || newInode != inode else { return nil }
        (path, device, inode) = (newPath, newDevice, newInode)
        return newPath
    }
}
