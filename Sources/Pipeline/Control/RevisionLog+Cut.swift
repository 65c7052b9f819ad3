import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension RevisionLog {
    /// Cuts the next revision: the head with what changed at `request.paths` read from the
    /// source (each file's content stored as it is read), or the whole source compared with
    /// the head. Files whose size, mtime and mode are the head's (and not from the last two
    /// seconds) are not read again. A source directory that is missing is an error, never an
    /// empty revision.
    public func cut(_ request: CutRequest) throws(SystemError) -> CutResult {
        guard FileInfo.lstat(request.source)?.kind == .directory else {
            throw SystemError("cut a revision (the source directory is missing)", path: request.source, code: ENOENT)
        }
        var cutter = Cutter(log: self, request: request, base: head?.rootEntry)
        if let paths = request.paths, head != nil, !paths.contains("") {
            for path in SyncPlanner.outermost(paths) {
                guard request.sourceFile.map({ $0 == path }) ?? true else { continue }
                try cutter.update(path)
            }
        } else {
            try cutter.update("")
        }
        let root = try cutter.finish()
        var result = cutter.result
        guard root.hash != head?.rootEntry?.hash else { return result }
        let diff = try self.diff(from: head?.rootEntry, to: root, counting: request.countFiles)
        // Only directories' times moved (a file came and went): nothing for a host to do. The
        // first revision is cut even empty: it is what every host is brought to.
        guard !diff.paths.isEmpty || head == nil else { return result }
        let record = RevisionRecord(
            number: newest + 1, parent: head?.number, root: root.hash.description,
            rootMode: root.mode, rootSeconds: root.mtimeSeconds, rootNanoseconds: root.mtimeNanoseconds,
            time: Date().timeIntervalSince1970, author: author,
            changed: Array(diff.paths.prefix(RevisionRecord.listedPaths)), changedCount: diff.paths.count,
            note: request.note,
            files: request.countFiles ? try files(of: head).map { $0 + diff.added - diff.removed } : nil)
        append(record)
        result.record = record
        result.diff = diff
        return result
    }
}

/// One cut's work: the head's directories that change, read and changed in memory, then
/// stored deepest first.
private struct Cutter {
    let log: RevisionLog
    let request: CutRequest
    /// The head's root (nil before the first revision).
    let base: TreeEntry?
    /// Files modified at or after this second are read again even when size and time agree.
    let racySince: Int
    /// Directories changed so far, by path ("" is the root), and the root's own entry (nil
    /// until the first revision's is read).
    var dirty: [String: TreeObject] = [:]
    var root: TreeEntry?
    var result = CutResult()

    init(log: RevisionLog, request: CutRequest, base: TreeEntry?) {
        self.log = log
        self.request = request
        self.base = base
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        racySince = now.tv_sec - 2
        root = base
    }

    private func full(_ path: String) -> String { FileSystem.join(request.source, path) }

    /// The entry at `path` as the cut has it so far.
    private mutating func entry(_ path: String) throws(SystemError) -> TreeEntry? {
        guard !path.isEmpty else { return root }
        let (parent, name) = RelativePath.split(path)
        return try directory(parent)?[name]
    }

    /// The directory at `path` as the cut has it so far, nil when there is none.
    private mutating func directory(_ path: String) throws(SystemError) -> TreeObject? {
        if let changed = dirty[path] { return changed }
        guard let e = try entry(path), e.kind == .directory else { return nil }
        return try log.reader.tree(e.hash)
    }

    /// Sets (or removes) the entry at `path`; its parent must be a directory in the cut.
    private mutating func set(_ path: String, _ new: TreeEntry?) throws(SystemError) {
        if path.isEmpty {
            if let new { root = new }
            dirty.removeAll()
            return
        }
        let (parent, name) = RelativePath.split(path)
        var tree = try directory(parent) ?? TreeObject()
        tree[name] = new
        dirty[parent] = tree
        // What was changed below a replaced entry is gone with it.
        let below = path + "/"
        for key in dirty.keys where key == path || key.hasPrefix(below) { dirty[key] = nil }
    }

    /// A symlink's hash (it has none: its destination is the entry).
    static let unstored = ContentHash(high: 0, low: 0)

    /// Reads `path` from the source into the cut (its ancestors first, where the source has
    /// made them meanwhile).
    mutating func update(_ path: String) throws(SystemError) {
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
            guard let info = FileInfo.lstat(full(prefix)), info.kind == .directory else {
                // No longer a directory in the source: that is the change to read.
                return try update(prefix)
            }
            if try entry(prefix)?.kind != .directory {
                // A directory the head lacks: read whole, with this path in it.
                return try update(prefix)
            }
        }
        let info = FileInfo.lstat(full(path))
        switch info?.kind {
        case nil:
            try set(path, nil)
        case .other?:
            result.skipped.append(path)
            try set(path, nil)
        case .file?:
            if let e = try file(path, info!, old: try entry(path)) { try set(path, e) }
        case .symlink?:
            try set(path, symlink(path, info!))
        case .directory?:
            try set(path, try walk(path, info!, old: try entry(path)))
        }
        try refresh(RelativePath.split(path).parent)
    }

    /// A directory's own mode and times, read again (a file in it came or went).
    mutating func refresh(_ path: String) throws(SystemError) {
        guard let info = FileInfo.lstat(full(path)), info.kind == .directory, let e = try entry(path),
            e.kind == .directory
        else { return }
        var refreshed = e
        refreshed.mode = info.mode
        refreshed.mtimeSeconds = info.mtimeSeconds
        refreshed.mtimeNanoseconds = info.mtimeNanoseconds
        guard refreshed != e else { return }
        if path.isEmpty {
            root = refreshed
        } else {
            let (parent, name) = RelativePath.split(path)
            var tree = try directory(parent) ?? TreeObject()
            tree[name] = refreshed
            dirty[parent] = tree
        }
    }

    /// A file's entry: the head's when size, mtime and mode agree (and are not too recent),
    /// else its content stored anew. Nil when it changed while read (`unstable`). Opened by
    /// name in `directory` when the walk holds it open (no path to look up again).
    private mutating func file(
        _ path: String, _ info: FileInfo, old: TreeEntry?, in directory: (fd: Int32, name: String)? = nil
    ) throws(SystemError) -> TreeEntry? {
        if let old, old.kind == .file, old.matches(info), info.mtimeSeconds < racySince { return old }
        let shown = full(path)
        let input: FileDescriptor
        let flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK
        do {
            if let directory {
                input = try FileDescriptor(at: directory.fd, directory.name, flags, shown: shown)
            } else {
                input = try FileDescriptor(opening: shown, flags)
            }
        } catch {
            // Gone, or replaced by a symlink, since it was listed: the watch reports it again.
            if error.code == ENOENT || error.code == ELOOP {
                result.unstable.append(path)
                return old
            }
            throw error
        }
        // What `lstat` said is what the open file must still be once read (its inode too):
        // a file replaced or written meanwhile is not stored torn. A directory put in its
        // place fails the read.
        let stored: (hash: ContentHash, size: Int64)?
        do { stored = try log.store.put(file: input.raw, before: info, shown: shown) } catch {
            guard error.code == EISDIR else { throw error }
            stored = nil
        }
        guard let stored else {
            result.unstable.append(path)
            return old?.kind == .file ? old : nil
        }
        return TreeEntry(info, hash: stored.hash)
    }

    private func symlink(_ path: String, _ info: FileInfo) -> TreeEntry? {
        TreeEntry(info, hash: Self.unstored, link: FileSystem.readLink(full(path)) ?? "")
    }

    /// A directory read whole from the source, its subdirectories stored as they are done.
    private mutating func walk(_ path: String, _ info: FileInfo, old: TreeEntry?) throws(SystemError) -> TreeEntry? {
        let shown = full(path)
        let handle = try FileDescriptor(opening: shown, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        let names = try DirectoryEntries.names(of: try handle.duplicate()).sorted()
        let oldTree = old?.kind == .directory ? try log.reader.tree(old!.hash) : nil
        var tree = TreeObject()
        var st = stat()
        for name in names {
            if path.isEmpty, let only = request.sourceFile, name != only { continue }
            guard fstatat(handle.raw, name.cPath, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let childInfo = FileInfo(st)
            let child = path.isEmpty ? name : path + "/" + name
            let decision: Filter.Decision
            do { decision = try request.filter.decide(entry: child, isDirectory: childInfo.kind == .directory) } catch {
                // A failing predicate must not drop a file: it is kept, and the error is told.
                result.warnings.append("ignore rule failed for \(child): \(error)")
                decision = Filter.Decision(ignored: false, rule: nil, matchedPath: child)
            }
            if decision.ignored {
                result.ignored.append((child, decision.explanation))
                continue
            }
            let oldChild = oldTree?[name]
            let entry: TreeEntry?
            switch childInfo.kind {
            case .file: entry = try file(child, childInfo, old: oldChild, in: (handle.raw, name))
            case .symlink: entry = symlink(child, childInfo)
            case .directory: entry = try walk(child, childInfo, old: oldChild)
            case .other:
                result.skipped.append(child)
                entry = nil
            }
            if let entry { tree.append(name, entry) }
        }
        return TreeEntry(info, hash: try log.reader.store(tree))
    }

    /// Stores the changed directories, deepest first (each makes its parent changed), and
    /// returns the new root.
    mutating func finish() throws(SystemError) -> TreeEntry {
        func depth(_ path: String) -> Int { path.isEmpty ? 0 : path.utf8.count { $0 == UInt8(ascii: "/") } + 1 }
        guard var root else {
            throw SystemError("cut a revision (the source's root was not read)", path: request.source, code: nil)
        }
        guard let deepest = dirty.keys.map(depth).max() else { return root }
        for level in stride(from: deepest, through: 0, by: -1) {
            for path in dirty.keys where depth(path) == level {
                let hash = try log.reader.store(dirty[path]!)
                if path.isEmpty {
                    root.hash = hash
                    self.root = root
                } else {
                    let (parent, name) = RelativePath.split(path)
                    var tree = try directory(parent) ?? TreeObject()
                    tree[name]?.hash = hash
                    dirty[parent] = tree
                }
            }
        }
        return root
    }
}
