import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Watches a directory tree with inotify: one watch per directory (never per file,
/// so replacing a file by rename cannot orphan a watch), new directories watched and
/// reported as they appear, moved-away directories unwatched.
///
/// Not thread-safe; the owner polls `fileDescriptor` and calls `read()`.
public final class InotifyWatcher {
    /// The inotify descriptor to poll for readability.
    public let fileDescriptor: Int32
    /// The watched root, absolute.
    public let root: String
    private let shouldWatch: (String) -> Bool
    private var paths: [Int32: String] = [:]  // wd -> relative directory path ("" = root)
    private var watches: [String: Int32] = [:]  // relative directory path -> wd
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// Directories left unwatched because the watch limit was reached; the owner scans them periodically.
    public private(set) var unwatched = Set<String>()

    // <sys/inotify.h>; spelled out because the header's enum-style flags import unevenly.
    static let inModify: UInt32 = 0x0000_0002
    static let inCloseWrite: UInt32 = 0x0000_0008
    static let inAttrib: UInt32 = 0x0000_0004
    static let inMovedFrom: UInt32 = 0x0000_0040
    static let inMovedTo: UInt32 = 0x0000_0080
    static let inCreate: UInt32 = 0x0000_0100
    static let inDelete: UInt32 = 0x0000_0200
    static let inDeleteSelf: UInt32 = 0x0000_0400
    static let inMoveSelf: UInt32 = 0x0000_0800
    static let inQOverflow: UInt32 = 0x0000_4000
    static let inIgnored: UInt32 = 0x0000_8000
    static let inOnlyDir: UInt32 = 0x0100_0000
    static let inDontFollow: UInt32 = 0x0200_0000
    static let inExclUnlink: UInt32 = 0x0400_0000
    static let inIsDir: UInt32 = 0x4000_0000
    static let watchMask: UInt32 =
        inModify | inCloseWrite | inAttrib | inMovedFrom | inMovedTo | inCreate | inDelete
        | inDeleteSelf | inMoveSelf | inOnlyDir | inDontFollow | inExclUnlink

    /// Starts watching `root` and every directory below it for which `shouldWatch`
    /// (given the relative path) returns true.
    public init(root: String, shouldWatch: @escaping (String) -> Bool = { _ in true }) throws(WatchError) {
        let fd = inotify_init1(Int32(O_NONBLOCK | O_CLOEXEC))
        guard fd >= 0 else { throw WatchError("inotify_init1 failed: \(String(cString: strerror(errno)))", path: root) }
        self.fileDescriptor = fd
        self.root = root
        self.shouldWatch = shouldWatch
        try addTree("")
        guard watches[""] != nil || unwatched.contains("") else {
            close(fd)
            throw WatchError("cannot watch the source directory", path: root)
        }
    }

    /// Tries again to watch the directories left unwatched (the limit may have been
    /// raised) and returns those that were unwatched: the caller syncs them as wholes,
    /// since anything may have changed in them.
    public func rewatchUnwatched() -> [String] {
        let paths = unwatched.sorted()
        unwatched.removeAll()
        for p in paths where FileInfo.lstat(p.isEmpty ? root : root + "/" + p)?.kind == .directory {
            try? addTree(p)
        }
        return paths
    }

    /// How many directories the tree has (each needs a watch), for the watch-limit message.
    public func directoriesInTree() -> Int {
        func count(_ dir: String) -> Int {
            var n = 1
            for entry in DirectoryEntries.entries(at: dir) {
                let child = dir + "/" + entry.name
                if (entry.kind ?? FileInfo.lstat(child)?.kind) == .directory { n += count(child) }
            }
            return n
        }
        return count(root)
    }

    deinit {
        close(fileDescriptor)
    }

    /// Number of directories watched.
    public var watchCount: Int { watches.count }

    /// Reads queued events and returns them as path events (may be empty). Reads at
    /// most 4 MiB of records per call, so that a burst cannot keep the caller from
    /// cutting batches; the rest stays queued for the next call.
    /// How long a move's first half waits for its second (they are queued microseconds apart).
    static let pairWaitMilliseconds: Int32 = 10

    public func read() throws(WatchError) -> [WatchEvent] {
        var events: [WatchEvent] = []
        var pendingMoves: [UInt32: (path: String, isDirectory: Bool)] = [:]
        var waitedForPairs = false
        for _ in 0..<64 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    // The kernel queues a rename's two halves one after the other: a read can
                    // come between them. Wait briefly for the other half before taking the
                    // move for one out of the tree (which then costs this wait).
                    if !pendingMoves.isEmpty && !waitedForPairs {
                        waitedForPairs = true
                        var ready = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
                        if poll(&ready, 1, Self.pairWaitMilliseconds) > 0 { continue }
                    }
                    break
                }
                if errno == EINTR { continue }
                throw WatchError("reading inotify events failed: \(String(cString: strerror(errno)))", path: root)
            }
            if n == 0 { break }
            var offset = 0
            let header = 16
            while offset + header <= n {
                let (wd, mask, cookie, length) = buffer.withUnsafeBytes { raw in
                    (
                        raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                        raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                        raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                        Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                guard offset + header + length <= n else { break }  // the kernel never splits records; be safe anyway
                var nameBytes = buffer[(offset + header)..<(offset + header + length)]
                if let nul = nameBytes.firstIndex(of: 0) { nameBytes = nameBytes[..<nul] }
                let name = FileName.decode(nameBytes)
                offset += header + length
                handle(wd: wd, mask: mask, cookie: cookie, name: name, into: &events, moves: &pendingMoves)
            }
        }
        // A move whose other half is not in this read: moved out of (or into) the tree.
        for (_, from) in pendingMoves {
            forgetTree(from.path)
            events.append(WatchEvent(path: from.path, kind: .deleted, isDirectory: from.isDirectory))
        }
        return events
    }

    private func handle(
        wd: Int32, mask: UInt32, cookie: UInt32, name: String, into events: inout [WatchEvent],
        moves: inout [UInt32: (path: String, isDirectory: Bool)]
    ) {
        if mask & Self.inQOverflow != 0 {
            events.append(WatchEvent(path: "", kind: .overflow, isDirectory: true))
            return
        }
        guard let dir = paths[wd] else { return }  // a watch already dropped
        if mask & Self.inIgnored != 0 {
            if watches[dir] == wd { watches[dir] = nil }
            paths[wd] = nil
            return
        }
        let isDirectory = mask & Self.inIsDir != 0
        if mask & (Self.inDeleteSelf | Self.inMoveSelf) != 0 {
            if dir.isEmpty {
                events.append(WatchEvent(path: "", kind: .deleted, isDirectory: true))
            }
            return  // the parent's watch reports the entry itself
        }
        let path = dir.isEmpty ? name : dir + "/" + name
        if mask & Self.inMovedFrom != 0 {
            moves[cookie] = (path, isDirectory)
            return
        }
        if mask & Self.inMovedTo != 0 {
            if let from = moves.removeValue(forKey: cookie) {
                if from.isDirectory { forgetTree(from.path) }
                if isDirectory { try? addTree(path) }
                events.append(WatchEvent(path: path, kind: .moved(from: from.path), isDirectory: isDirectory))
            } else {
                if isDirectory { try? addTree(path) }
                events.append(WatchEvent(path: path, kind: .written, isDirectory: isDirectory))
            }
            return
        }
        if mask & Self.inCreate != 0 {
            if isDirectory { try? addTree(path) }
            events.append(WatchEvent(path: path, kind: isDirectory ? .written : .created, isDirectory: isDirectory))
        } else if mask & Self.inModify != 0 {
            events.append(WatchEvent(path: path, kind: .modified, isDirectory: false))
        } else if mask & Self.inCloseWrite != 0 {
            events.append(WatchEvent(path: path, kind: .written, isDirectory: false))
        } else if mask & Self.inDelete != 0 {
            if isDirectory { forgetTree(path) }
            events.append(WatchEvent(path: path, kind: .deleted, isDirectory: isDirectory))
        } else if mask & Self.inAttrib != 0 {
            events.append(WatchEvent(path: path, kind: .attributes, isDirectory: isDirectory))
        }
    }

    /// Watches a directory and everything below it. Files already inside are the
    /// caller's to sync: a new directory is always synced as a whole.
    private func addTree(_ relative: String) throws(WatchError) {
        guard relative.isEmpty || shouldWatch(relative) else { return }
        let full = relative.isEmpty ? root : root + "/" + relative
        let wd = inotify_add_watch(fileDescriptor, full.cPath, Self.watchMask)
        if wd < 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR { return }  // gone or replaced already; its parent reports it
            if e == ENOSPC {
                // The watch limit: not a full disk. The subtree is scanned periodically instead.
                unwatched.insert(relative)
                return
            }
            throw WatchError("inotify_add_watch failed: \(String(cString: strerror(e)))", path: full)
        }
        if let old = paths[wd], old != relative, watches[old] == wd { watches[old] = nil }
        paths[wd] = relative
        watches[relative] = wd
        var children: [String] = []
        for entry in DirectoryEntries.entries(at: full) where entry.kind == .directory || entry.kind == nil {
            let child = relative.isEmpty ? entry.name : relative + "/" + entry.name
            if entry.kind == nil, FileInfo.lstat(root + "/" + child)?.kind != .directory { continue }
            children.append(child)
        }
        for child in children { try addTree(child) }
    }

    /// Drops the watches of a directory that left the tree, and of everything below it.
    private func forgetTree(_ relative: String) {
        let prefix = relative + "/"
        unwatched = unwatched.filter { $0 != relative && !$0.hasPrefix(prefix) }
        for (path, wd) in watches where path == relative || path.hasPrefix(prefix) {
            inotify_rm_watch(fileDescriptor, wd)
            watches[path] = nil
            paths[wd] = nil
        }
    }
}
