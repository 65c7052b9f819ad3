import RunnerSystem

/// What a host at one revision needs to be at another: the paths that differ (a directory
/// that is new, gone, or whose mode changed counts as one and is compared whole), and the
/// moves among them (to → from), found by content: a file or directory gone from one path
/// and new at another with the same hash. A directory whose only change is its times is
/// looked into, not listed: its files say what changed.
public struct RevisionDiff: Sendable, Equatable {
    /// The paths, sorted.
    public var paths: [String] = []
    /// New path → old path, for content that moved.
    public var moves: [String: String] = [:]
    /// Files and symlinks (not directories) that are new, gone, or changed in place, counted
    /// inside new and gone directories too when asked: what a mass-change guard weighs.
    public var added = 0
    public var removed = 0
    public var modified = 0

    /// A diff.
    public init(paths: [String] = [], moves: [String: String] = [:]) {
        self.paths = paths
        self.moves = moves
    }
}

extension RevisionLog {
    /// The difference between two revisions (nil `from`: everything in `to`); `counting`
    /// counts the files in new and gone directories too (`added`, `removed`: a walk of them).
    public func diff(from: RevisionRecord?, to: RevisionRecord, counting: Bool = false) throws(SystemError)
        -> RevisionDiff
    {
        try diff(from: from?.rootEntry, to: to.rootEntry, counting: counting)
    }

    /// The files and symlinks in a revision (0 before the first), counted once for a record
    /// written before records counted them.
    public func files(of record: RevisionRecord?) throws(SystemError) -> Int? {
        guard let record else { return 0 }
        if let known = record.files { return known }
        guard let root = record.rootEntry else { return nil }
        return try DiffWalk(reader: reader, counting: true).leaves(root)
    }

    func diff(from: TreeEntry?, to: TreeEntry?, counting: Bool = false) throws(SystemError) -> RevisionDiff {
        var walk = DiffWalk(reader: reader, counting: counting)
        try walk.compare("", from, to)
        return walk.finish()
    }
}

/// Two manifests compared from their roots down, skipping every directory they share.
private struct DiffWalk {
    let reader: ManifestReader
    /// Whether new and gone directories are walked for `added` and `removed`.
    let counting: Bool
    var changed: [String] = []
    var gone: [(path: String, entry: TreeEntry)] = []
    var new: [(path: String, entry: TreeEntry)] = []
    var added = 0, removed = 0, modified = 0

    init(reader: ManifestReader, counting: Bool) {
        self.reader = reader
        self.counting = counting
    }

    mutating func compare(_ path: String, _ a: TreeEntry?, _ b: TreeEntry?) throws(SystemError) {
        switch (a, b) {
        case (nil, nil): return
        case (let a?, nil):
            gone.append((path, a))
            removed += try leaves(a)
        case (nil, let b?):
            new.append((path, b))
            added += try leaves(b)
        case (let a?, let b?):
            guard a != b else { return }
            if a.kind == .directory && b.kind == .directory && (a.mode == b.mode || path.isEmpty) {
                guard a.hash != b.hash else { return }
                let left = try reader.tree(a.hash), right = try reader.tree(b.hash)
                var i = 0, j = 0
                while i < left.count || j < right.count {
                    if j == right.count || (i < left.count && left.names[i] < right.names[j]) {
                        try compare(join(path, left.names[i]), left.entries[i], nil)
                        i += 1
                    } else if i == left.count || right.names[j] < left.names[i] {
                        try compare(join(path, right.names[j]), nil, right.entries[j])
                        j += 1
                    } else {
                        try compare(join(path, left.names[i]), left.entries[i], right.entries[j])
                        i += 1
                        j += 1
                    }
                }
            } else {
                changed.append(path)
                if a.kind == b.kind {
                    modified += a.kind == .directory ? 0 : 1
                } else {
                    removed += try leaves(a)
                    added += try leaves(b)
                }
            }
        }
    }

    /// The files and symlinks at or under `entry`.
    func leaves(_ entry: TreeEntry) throws(SystemError) -> Int {
        guard entry.kind == .directory else { return 1 }
        guard counting else { return 0 }
        var n = 0
        for child in try reader.tree(entry.hash).entries { n += try leaves(child) }
        return n
    }

    private func join(_ parent: String, _ name: String) -> String { parent.isEmpty ? name : parent + "/" + name }

    /// The paths, and the moves: content gone from exactly one path and new at exactly one.
    func finish() -> RevisionDiff {
        var diff = RevisionDiff()
        var goneBy: [ContentHash: [String]] = [:]
        for (path, e) in gone where e.kind != .symlink { goneBy[e.hash, default: []].append(path) }
        var newBy: [ContentHash: [String]] = [:]
        for (path, e) in new where e.kind != .symlink { newBy[e.hash, default: []].append(path) }
        for (hash, to) in newBy where to.count == 1 {
            if let from = goneBy[hash], from.count == 1, !from[0].isEmpty { diff.moves[to[0]] = from[0] }
        }
        diff.paths = (changed + gone.map(\.path) + new.map(\.path)).sorted()
        (diff.added, diff.removed, diff.modified) = (added, removed, modified)
        return diff
    }
}
