import RunnerSystem

/// Reads manifests out of a content store: directories by hash (chunks joined), entries by
/// path. It keeps the directories it read last (about `cacheLimit` entries' worth), so a
/// cut or a plan that visits one part of a large tree reads each directory once. One per
/// thread: the cache is not shared.
final class ManifestReader {
    let store: ContentStore
    private var cache: [ContentHash: TreeObject] = [:]
    private var cached = 0
    /// Entries kept in the cache before it starts over (a few MB).
    static let cacheLimit = 20_000

    init(store: ContentStore) { self.store = store }

    /// The directory stored under `hash`.
    func tree(_ hash: ContentHash) throws(SystemError) -> TreeObject {
        if let known = cache[hash] { return known }
        let tree = try read(hash)
        remember(tree, as: hash)
        return tree
    }

    private func read(_ hash: ContentHash) throws(SystemError) -> TreeObject {
        let shown = store.path(of: hash)
        var tree: TreeObject
        switch try TreeObject.decode(try store.read(hash), shown: shown) {
        case .entries(let entries): tree = entries
        case .index(let chunks):
            tree = TreeObject()
            for chunk in chunks {
                guard case .entries(let part) = try TreeObject.decode(try store.read(chunk.hash), shown: shown),
                    part.count == chunk.count, part.names.first == chunk.first
                else { throw SystemError("read (a chunk that is not what its index says)", path: shown, code: nil) }
                try tree.appendChunk(part)
            }
        }
        return tree
    }

    private func remember(_ tree: TreeObject, as hash: ContentHash) {
        if cached + tree.count > Self.cacheLimit {
            cache.removeAll(keepingCapacity: true)
            cached = 0
        }
        cache[hash] = tree
        cached += tree.count
    }

    /// The entry at `path` under the directory `root` ("" is the root itself), or nil.
    func entry(_ path: String, root: TreeEntry) throws(SystemError) -> TreeEntry? {
        guard !path.isEmpty else { return root }
        var current = root
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            guard current.kind == .directory, let next = try tree(current.hash)[String(part)] else { return nil }
            current = next
        }
        return current
    }

    /// Stores a directory (in chunks when it is large) and returns its hash; it is then in
    /// the cache, as the next cut and the diff after this one read it first.
    func store(_ tree: TreeObject) throws(SystemError) -> ContentHash {
        let ranges = tree.chunkRanges()
        let hash: ContentHash
        if ranges.count == 1 {
            hash = try store.put(tree.encode(0..<tree.count))
        } else {
            var chunks: [(first: String, hash: ContentHash, count: Int)] = []
            for range in ranges {
                chunks.append((tree.names[range.lowerBound], try store.put(tree.encode(range)), range.count))
            }
            hash = try store.put(TreeObject.encodeIndex(chunks))
        }
        remember(tree, as: hash)
        return hash
    }

    /// Forgets what it read (after objects were collected).
    func forget() {
        cache.removeAll()
        cached = 0
    }
}
