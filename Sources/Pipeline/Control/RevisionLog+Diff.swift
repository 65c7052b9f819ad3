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

    /// A diff.
    public init(paths: [String] = [], moves: [String: String] = [:]) {
        self.paths = paths
        self.moves = moves
    }
}

extension RevisionLog {
    /// The difference between two revisions (nil `from`: everything in `to`).
    public func diff(from: RevisionRecord?, to: RevisionRecord) throws(SystemError) -> RevisionDiff {
        try diff(from: from?.rootEntry, to: to.rootEntry)
    }

    func diff(from: TreeEntry?, to: TreeEntry?) throws(SystemError) -> RevisionDiff {
        var walk = DiffWalk(reader: reader)
        try walk.compare("", from, to)
        return walk.finish()
    }
}

/// Two manifests compared from their roots down, skipping every directory they share.
private struct DiffWalk {
    let reader: ManifestReader
    var changed: [String] = []
    var gone: [(path: String, entry: TreeEntry)] = []
    var new: [(path: String, entry: TreeEntry)] = []

    init(reader: ManifestReader) { self.reader = reader }

    mutating func compare(_ path: String, _ a: TreeEntry?, _ b: TreeEntry?) throws(SystemError) {
        switch (a, b) {
        case (nil, nil): return
        case (let a?, nil): gone.append((path, a))
        case (nil, let b?): new.append((path, b))
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
            }
        }
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
        return diff
    }
}
