import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension RevisionLog {
    /// Whether enough revisions were cut since the last collection to make one worth it
    /// (`.due`), or so many that it should not wait for a quiet moment (`.overdue`).
    public var collection: Collection? {
        cutsSinceCollect >= max(10, keep) ? .overdue : cutsSinceCollect >= max(10, keep / 4) ? .due : nil
    }

    /// How much a collection is owed.
    public enum Collection { case due, overdue }

    /// Drops the records of revisions older than the last `keep` that nothing pins (a
    /// group's approved revision, a host's applied one), then every object no kept revision
    /// reaches: its files, its directories, and templates rendered from them (rendered again
    /// when needed). Only when no delivery reads the store.
    public func collect(pinned: Set<Int>) throws(SystemError) -> (revisions: Int, objects: Int, bytes: Int64) {
        try flush()
        cutsSinceCollect = 0
        let all = numbers()
        let kept = Set(all.suffix(keep)).union(pinned)
        var dropped = 0
        for number in all where !kept.contains(number) {
            if unlink(directory + "/revisions/\(number)") == 0 { dropped += 1 }
        }
        var live = Set<ContentHash>()
        for number in all where kept.contains(number) {
            guard let root = record(number)?.rootEntry else { continue }
            try mark(root.hash, &live)
        }
        let removed = store.collect(keeping: live)
        reader.forget()
        return (dropped, removed.objects, removed.bytes)
    }

    /// Marks a directory's objects (its chunks too) and everything below it.
    private func mark(_ hash: ContentHash, _ live: inout Set<ContentHash>) throws(SystemError) {
        guard live.insert(hash).inserted else { return }
        let (trees, files) = try TreeObject.references(try store.read(hash), shown: store.path(of: hash))
        live.formUnion(files)
        for tree in trees { try mark(tree, &live) }
    }
}
