import Crypto
import RunnerSystem

extension RevisionLog {
    /// What names a revision's content across senders: the content store's hashes are keyed
    /// with each store's own seed, so two senders' roots of the same tree differ. This is a
    /// SHA-256 tree over the manifest: each directory's digest covers its entries' names,
    /// kinds, modes and owners, and for a file its size and mtime to the nanosecond (the
    /// quick check rsync and every cut rely on), for a symlink its destination, for a
    /// directory its own digest. A directory's times are left out (a receiver that
    /// replicates the source may touch them). Directories are remembered by their tree
    /// object, so a revision costs what changed in it. nil when the manifest cannot be read.
    public func identity(of record: RevisionRecord) -> String? {
        guard let root = record.rootEntry, let digest = try? identity(ofDirectory: root.hash) else { return nil }
        var hasher = SHA256()
        hasher.update(data: Array("\(root.mode) \(root.uid):\(root.gid)".utf8) + digest)
        let hex = Array("0123456789abcdef")
        return String(hasher.finalize().flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
    }

    private func identity(ofDirectory hash: ContentHash) throws(SystemError) -> [UInt8] {
        if let known = identities.withLock({ $0[hash] }) { return known }
        var hasher = SHA256()
        let tree = try reader.tree(hash)
        for (name, entry) in zip(tree.names, tree.entries) {
            var text = "\(name)\0\(entry.kind) \(entry.mode) \(entry.uid):\(entry.gid)\0"
            switch entry.kind {
            case .file: text += "\(entry.size) \(entry.mtimeSeconds).\(entry.mtimeNanoseconds)\0"
            case .symlink: text += entry.link + "\0"
            case .directory: break
            }
            hasher.update(data: Array(text.utf8))
            if entry.kind == .directory { hasher.update(data: try identity(ofDirectory: entry.hash)) }
        }
        let digest = Array(hasher.finalize())
        identities.withLock { cache in
            if cache.count >= 100_000 { cache.removeAll() }
            cache[hash] = digest
        }
        return digest
    }
}
