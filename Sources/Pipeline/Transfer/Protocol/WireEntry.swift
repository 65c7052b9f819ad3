/// One entry of a receiver's listing, as it crosses the wire.
struct WireEntry: Equatable {
    var path: String
    var info: FileInfo
    var link: String?

    func encode(_ b: inout PayloadBuilder) {
        b.string(path)
        b.u8(WireEntry.code(info.kind))
        b.u32(info.mode)
        b.u64(UInt64(max(0, info.size)))
        b.i64(Int64(info.mtimeSeconds))
        b.u32(UInt32(truncatingIfNeeded: info.mtimeNanoseconds))
        b.string(link ?? "")
    }

    static func decode(_ payload: [UInt8]) throws(WireError) -> WireEntry {
        var r = PayloadReader(payload)
        let path = try r.string()
        let kind: FileInfo.Kind
        switch try r.u8() {
        case 0: kind = .file
        case 1: kind = .directory
        case 2: kind = .symlink
        default: kind = .other
        }
        let mode = try r.u32() & 0o7777
        let size = Int64(clamping: try r.u64())
        let seconds = Int(try r.i64())
        let nanoseconds = Int(try r.u32() % 1_000_000_000)
        let link = try r.string()
        try r.end()
        return WireEntry(path: path, info: FileInfo(kind: kind, mode: mode, size: size, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds),
                         link: kind == .symlink ? link : nil)
    }

    static func code(_ kind: FileInfo.Kind) -> UInt8 {
        switch kind {
        case .file: return 0
        case .directory: return 1
        case .symlink: return 2
        case .other: return 3
        }
    }
}

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
