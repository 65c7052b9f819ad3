import Crypto
import RunnerSystem

extension RevisionLog {
    /// What names a revision's content across senders: the content store's hashes are keyed
    /// with each store's own seed, so two senders' roots of the same tree differ. This is
    /// SHA-256 of the manifest's paths with each entry's kind, mode, owner, and for a file its
    /// size and mtime to the nanosecond, for a symlink its destination — the quick check
    /// rsync and every cut rely on. A directory's times are left out (a receiver that
    /// replicates the source may touch them). nil when the manifest cannot be read.
    public func identity(of record: RevisionRecord) -> String? {
        guard let root = record.rootEntry else { return nil }
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Array(text.utf8) + [0]) }
        func walk(_ path: String, _ entry: TreeEntry) throws(SystemError) {
            add(path)
            add("\(entry.kind) \(entry.mode) \(entry.uid):\(entry.gid)")
            switch entry.kind {
            case .file: add("\(entry.size) \(entry.mtimeSeconds).\(entry.mtimeNanoseconds)")
            case .symlink: add(entry.link)
            case .directory:
                let tree = try reader.tree(entry.hash)
                for (name, child) in zip(tree.names, tree.entries) {
                    try walk(path.isEmpty ? name : path + "/" + name, child)
                }
            }
        }
        do { try walk("", root) } catch { return nil }
        let hex = Array("0123456789abcdef")
        return String(hasher.finalize().flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
    }
}
