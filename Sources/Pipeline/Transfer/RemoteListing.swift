import RunnerSystem

/// A receiver's listing of the parts of its tree a batch touches, as the sender's
/// planner sees it.
struct RemoteListing: TargetView {
    private var entries: [String: WireEntry] = [:]
    private var children: [String: Set<String>] = [:]

    mutating func add(_ e: WireEntry) {
        entries[e.path] = e
        if !e.path.isEmpty {
            let parent = e.path.lastIndex(of: "/").map { String(e.path[..<$0]) } ?? ""
            let name = e.path.lastIndex(of: "/").map { String(e.path[e.path.index(after: $0)...]) } ?? e.path
            children[parent, default: []].insert(name)
        }
    }

    func info(_ path: String) -> FileInfo? { entries[path]?.info }
    func list(_ path: String) -> [String] { (children[path] ?? []).sorted() }
    func readLink(_ path: String) -> String? { entries[path]?.link }
}
