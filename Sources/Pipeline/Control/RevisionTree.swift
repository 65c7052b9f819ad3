import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A template rendered for one host: its content in the store, and its size.
public struct RenderedFile: Sendable, Equatable {
    public let hash: ContentHash
    public let size: Int64

    /// A rendered file.
    public init(hash: ContentHash, size: Int64) {
        self.hash = hash
        self.size = size
    }
}

/// One revision as a tree to send from: its manifest, read from the content store, with a
/// host's rendered templates laid over it (each keeps its template's mode and times, and is
/// compared by content at the target). Immutable content: nothing changes while it is read.
/// Reads through a cache of its own: one thread uses it at a time (the delivery's).
public final class RevisionTree: SourceTree {
    let store: ContentStore
    private let reader: ManifestReader
    /// The revision's root directory.
    let root: TreeEntry
    /// Rendered templates by path.
    let overlay: [String: RenderedFile]

    init(store: ContentStore, root: TreeEntry, overlay: [String: RenderedFile]) {
        self.store = store
        self.reader = ManifestReader(store: store)
        self.root = root
        self.overlay = overlay
    }

    private func entry(_ path: String) throws -> TreeEntry? { try reader.entry(path, root: root) }

    private func info(of entry: TreeEntry, at path: String) -> FileInfo {
        var info = entry.info
        if entry.kind == .file, let rendered = overlay[path] { info.size = rendered.size }
        return info
    }

    public func info(_ path: String) throws -> FileInfo? { try entry(path).map { info(of: $0, at: path) } }

    public func entries(_ path: String) throws -> [(name: String, info: FileInfo)] {
        guard let e = try entry(path), e.kind == .directory else { return [] }
        let tree = try reader.tree(e.hash)
        return zip(tree.names, tree.entries).map { name, child in
            (name, info(of: child, at: path.isEmpty ? name : path + "/" + name))
        }
    }

    public func readLink(_ path: String) throws -> String? {
        guard let e = try entry(path), e.kind == .symlink else { return nil }
        return e.link
    }

    public func open(_ path: String) throws -> SourceContent? {
        guard let e = try entry(path), e.kind == .file else { return nil }
        let hash = overlay[path]?.hash ?? e.hash
        let file = try store.open(hash)
        return SourceContent(file: file, info: info(of: e, at: path), shown: store.path(of: hash), live: false)
    }

    public func comparesContent(_ path: String) -> Bool { overlay[path] != nil }

    /// A file's content hash in the revision (under any rendering), or nil.
    public func contentHash(_ path: String) throws -> ContentHash? {
        guard let e = try entry(path), e.kind == .file else { return nil }
        return e.hash
    }

    public var directory: String? { nil }
}
