import RunnerSystem

/// A receiver's listing of the parts of its tree a batch touches, as the sender's
/// planner sees it. What the receiver sends is held to what it was asked: each path is
/// safe (no `..`, `.`, empty component, NUL or leading `/`), is a scanned path, one of
/// their ancestors or below one, comes after its parent (a directory), comes once, and
/// the whole stays within `maxBytes` of the sender's memory.
struct RemoteListing: TargetView {
    /// What the listing may cost the sender, counted as `entryCost` per entry: 512 MiB is
    /// about 1.6 million entries of 30-byte paths.
    static let maxBytes = 512 << 20

    private var entries: [String: WireEntry] = [:]
    private var children: [String: Set<String>] = [:]
    /// Nil: the root was scanned, everything is in scope.
    private let scanned: Set<String>?
    private var ancestors = Set<String>()
    private var bytes = 0

    /// An empty listing (a blind plan's).
    init() { scanned = nil }

    /// A listing to be filled with the answer to a scan of `paths` ("" is the root).
    init(scanning paths: [String]) {
        guard !paths.contains("") else {
            scanned = nil
            return
        }
        scanned = Set(paths)
        for path in paths { ancestors.formUnion(Self.ancestors(of: path)) }
    }

    /// `a/b` and `a` for `a/b/c`, nearest first.
    private static func ancestors(of path: String) -> [String] {
        var out: [String] = []
        var end = path.endIndex
        while let slash = path[..<end].lastIndex(of: "/") {
            out.append(String(path[..<slash]))
            end = slash
        }
        return out
    }

    /// The memory an entry holds: the path twice (the table's key and the parent's child
    /// name), and the table slots around them.
    static func entryCost(_ path: String) -> Int { 256 + 2 * path.utf8.count }

    /// A path a listing may name: the root (empty), or a safe relative path.
    static func checkPath(_ path: String) throws(WireError) {
        guard !path.isEmpty else { return }
        do throws(TransferError) { _ = try RelativePath(validating: path) } catch {
            throw WireError("the listing names '\(path)': \(error.message)")
        }
    }

    mutating func add(_ e: WireEntry) throws(WireError) {
        try Self.checkPath(e.path)
        guard entries[e.path] == nil else { throw WireError("the listing names '\(e.path)' twice") }
        guard inScope(e.path) else { throw WireError("the listing names '\(e.path)', which was not asked for") }
        let (parent, name) = RelativePath.split(e.path)
        if !e.path.isEmpty, scanned == nil || !parent.isEmpty {
            guard entries[parent]?.info.kind == .directory else {
                throw WireError("the listing names '\(e.path)' before its directory")
            }
        }
        bytes += Self.entryCost(e.path)
        guard bytes <= Self.maxBytes else {
            throw WireError(
                "the listing passed \(Self.maxBytes >> 20) MiB at \(entries.count) entries (more than a tree this sender can plan against at once)"
            )
        }
        entries[e.path] = e
        if !e.path.isEmpty { children[parent, default: []].insert(name) }
    }

    /// A scanned path, an ancestor of one, or below one.
    private func inScope(_ path: String) -> Bool {
        guard let scanned else { return true }
        return scanned.contains(path) || ancestors.contains(path)
            || Self.ancestors(of: path).contains(where: scanned.contains)
    }

    func info(_ path: String) -> FileInfo? { entries[path]?.info }
    func list(_ path: String) -> [String] { (children[path] ?? []).sorted() }
    func readLink(_ path: String) -> String? { entries[path]?.link }
}
