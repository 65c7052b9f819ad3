import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Compares a source tree with a target tree and plans what the target needs.
///
/// The planner looks at the source as it is now, so a batch of paths only says
/// *where* to look: a path that is gone is deleted, a directory is compared as a
/// whole subtree, a file is sent when its size or modification time differ (only its
/// attributes when only its mode or owner do).
public struct SyncPlanner {
    /// The source tree (with a target's rendered templates over it).
    public let source: any SourceTree
    /// The target tree.
    public let target: any TargetView
    /// Decides what is ignored; ignored paths are neither sent nor deleted.
    public let filter: Filter
    /// Delete target entries that the source does not have.
    public let delete: Bool
    /// Paths moved within the source, to where they came from (files and directories).
    public var moves: [String: String] = [:]

    /// A planner for a target directory on this host.
    public init(source: any SourceTree, target: String, filter: Filter, delete: Bool) {
        self.init(source: source, view: LocalTreeView(root: target), filter: filter, delete: delete)
    }

    /// A planner for any target tree.
    public init(source: any SourceTree, view: any TargetView, filter: Filter, delete: Bool) {
        self.source = source
        self.target = view
        self.filter = filter
        self.delete = delete
    }

    /// Plans for the given paths, or for the whole tree when `paths` is nil. The paths are
    /// a batch's, which the filter has decided already (their ancestors included): only
    /// what is found below them is decided here.
    public func plan(paths: [String]?) throws -> SyncPlan {
        var whole = SyncPlan()
        try plan(paths: paths, partSize: .max) { whole.append($0) }
        return whole
    }

    /// Plans as `plan(paths:)` does, handing the plan to `take` in parts of at most
    /// `partSize` operations, in order, as the walk goes: a tree of any size is planned
    /// (and applied, part by part) in flat memory. Deletions come in the last parts, so
    /// that a moved file's old path is still there while the parts before are applied.
    public func plan(paths: [String]?, partSize: Int, _ take: (SyncPlan) throws -> Void) throws {
        try withoutActuallyEscaping(take) { take in
            var sink = Sink(size: partSize, take: take)
            var deletes: [SyncPlan.Operation] = []
            for root in SyncPlanner.outermost(try (paths ?? [""]).map(syncRoot)) {
                try visit(root, try source.info(root), into: &sink, deletes: &deletes, targetParentIsDirectory: true)
            }
            for op in deletes { try sink.add(op) }
            try sink.flush(last: true)
        }
    }

    /// Collects operations into parts and hands each over when full.
    private struct Sink {
        let size: Int
        let take: (SyncPlan) throws -> Void
        var part = SyncPlan()

        /// `base`: where the target's copy of a moved file is; `basis`: the target's file
        /// there (or at the path itself) that a delta would be made against.
        mutating func add(_ op: SyncPlan.Operation, base: String? = nil, basis: FileInfo? = nil) throws {
            if let base { part.bases[op.path] = base }
            if let basis, basis.kind == .file { part.basisInfo[op.path] = basis }
            part.operations.append(op)
            if part.operations.count >= size { try flush(last: false) }
        }

        /// Hands the part over; the last one even when empty (what was skipped or ignored).
        mutating func flush(last: Bool) throws {
            guard last || !part.operations.isEmpty else { return }
            try take(part)
            part = SyncPlan()
        }
    }

    /// The plan for a batch of small files, links and deletions, made without the target's
    /// listing (a round trip each batch would otherwise wait for): each file is sent whole,
    /// each link as it is, each path the source lacks deleted where it is. A receiver then
    /// compares what it gets with what it has, so nothing is rewritten for nothing. Nil when
    /// the batch needs the listing: a directory (compared whole), a file large enough for a
    /// delta, or a move (renamed only where the target has the old path).
    public static func blind(paths: [String], moves: [String: String], source: any SourceTree, delete: Bool)
        -> SyncPlan?
    {
        guard moves.isEmpty, !paths.isEmpty, !paths.contains("") else { return nil }
        var plan = SyncPlan()
        for path in paths.sorted() {
            let found: FileInfo?
            // A tree that cannot be read is planned with the listing, which says why.
            do { found = try source.info(path) } catch { return nil }
            switch found {
            case nil:
                if delete { plan.operations.append(.delete(path: path)) }
            case let info? where info.kind == .file && info.size < Self.blindLimit:
                plan.operations.append(.copy(path: path, info: info))
            case let info? where info.kind == .symlink:
                guard let link = try? source.readLink(path) else { return nil }
                plan.operations.append(.symlink(path: path, destination: link, info: info))
            default:
                return nil
            }
        }
        return plan
    }

    /// Operations per part of a plan handed over as the walk goes (about 1 MB of them).
    public static let partSize = 8192

    /// Files under this size go whole anyway (no signature is asked for them).
    public static let blindLimit: Int64 = 4096

    /// Where to sync from for a changed path: the path itself, or its highest
    /// ancestor that is not a real directory on the target (missing, a file, or a
    /// symlink, which is never followed): that ancestor is synced whole instead.
    private func syncRoot(_ path: String) throws -> String {
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
            if try target.info(prefix)?.kind != .directory { return prefix }
        }
        return path
    }

    /// Files modified at or after this second are too recent to trust the quick check.
    /// File systems stamp times from a clock that ticks every few milliseconds, so a
    /// same-size rewrite within one tick keeps size and mtime: such a file is sent
    /// (as a delta, where that is cheap) rather than skipped — git's "racily clean".
    private let racySince: Int = {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec - 2
    }()

    /// Where a path was before a move: its own origin, or one of a moved ancestor's.
    private func origin(of path: String) -> String? {
        guard !moves.isEmpty else { return nil }
        if let from = moves[path] { return from }
        var end = path.endIndex
        while let slash = path[..<end].lastIndex(of: "/") {
            if let from = moves[String(path[..<slash])] { return from + path[slash...] }
            end = slash
        }
        return nil
    }

    /// Drops paths that lie under another path of the set: visiting the ancestor covers them.
    static func outermost(_ paths: [String]) -> [String] {
        var result: [String] = []
        for p in paths.sorted() {
            if let last = result.last, last.isEmpty || p == last || p.hasPrefix(last + "/") { continue }
            result.append(p)
        }
        return result
    }

    /// `src` is the source's entry at `path` (nil when gone). `targetParentIsDirectory`
    /// false means the target has no real directory here (a file or a symlink that will
    /// be replaced): nothing below it is looked at.
    private func visit(
        _ path: String, _ src: FileInfo?, into plan: inout Sink, deletes: inout [SyncPlan.Operation],
        targetParentIsDirectory: Bool
    ) throws {
        let dst = targetParentIsDirectory ? try target.info(path) : nil
        guard let src else {
            if delete, dst != nil, !path.isEmpty { deletes.append(.delete(path: path)) }
            return
        }
        switch src.kind {
        case .directory:
            if dst?.kind != .directory || dst?.mode != src.mode
                || dst?.mtimeSeconds != src.mtimeSeconds || dst?.mtimeNanoseconds != src.mtimeNanoseconds
                || dst?.ownerDiffers(from: src) == true
            {
                try plan.add(.directory(path: path, info: src))
            }
            var children: [String: FileInfo] = [:]
            for entry in try source.entries(path) { children[entry.name] = entry.info }
            var names = Set(children.keys)
            if delete, dst?.kind == .directory { names.formUnion(try target.list(path)) }
            for name in names.sorted() {
                let child = path.isEmpty ? name : path + "/" + name
                let childSrc = children[name]
                let childIsDir = try (childSrc ?? target.info(child))?.kind == .directory
                let decision = try filter.decide(entry: child, isDirectory: childIsDir)
                if decision.ignored {
                    plan.part.ignored.append((child, decision.explanation))
                    continue
                }
                try visit(
                    child, childSrc, into: &plan, deletes: &deletes, targetParentIsDirectory: dst?.kind == .directory)
            }
        case .file:
            let quick = src.mtimeSeconds < racySince && !source.comparesContent(path)
            if let dst, dst.kind == .file, dst.sameContent(as: src), quick {
                if dst.mode != src.mode || dst.ownerDiffers(from: src) {
                    try plan.add(.attributes(path: path, info: src))
                }
            } else if dst == nil, let from = origin(of: path), let was = try target.info(from), was.kind == .file {
                // Moved in the source: the target's file at the old path is renamed, or is the
                // basis of the delta when the file was edited too.
                if was.sameContent(as: src), quick {
                    try plan.add(.link(path: path, from: from, info: src))
                } else {
                    try plan.add(.copy(path: path, info: src), base: from, basis: was)
                }
            } else {
                try plan.add(.copy(path: path, info: src), basis: dst)
            }
        case .symlink:
            let link = try source.readLink(path) ?? ""
            if try dst?.kind != .symlink || target.readLink(path) != link {
                try plan.add(.symlink(path: path, destination: link, info: src))
            } else if let dst, dst.ownerDiffers(from: src) {
                try plan.add(.attributes(path: path, info: src))
            }
        case .other:
            plan.part.skipped.append(path)
        }
    }
}
