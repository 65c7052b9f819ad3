/// What happened to a path in a batch, as far as the watcher saw. The last word wins
/// (written, then deleted, is deleted), except that a change of attributes never hides
/// a write, and a write after a move keeps the move (the moved file is the basis).
public enum PathChange: Sendable, Equatable {
    /// Created, written, or moved in from outside what is synced.
    case written
    /// Only mode, owner or times changed.
    case attributes
    /// Removed, or moved away.
    case deleted
    /// Moved here from `from` within the source (a file or a whole directory): a target
    /// that still has `from` renames it rather than receiving it again.
    case moved(from: String)

    /// This change followed by `later`.
    func then(_ later: PathChange) -> PathChange {
        switch (self, later) {
        case (.written, .attributes): return .written
        case (.moved, .attributes), (.moved, .written): return self
        default: return later
        }
    }

    /// Where a moved path came from.
    public var origin: String? {
        if case .moved(let from) = self { return from }
        return nil
    }
}

extension [String: PathChange] {
    /// Records what happened to `path` after what is recorded already. A path moved from
    /// one that was itself moved here (a -> b -> c) comes from the first origin, which is
    /// what a target still has; record moves before the deletions of the same batch.
    mutating func record(_ path: String, _ change: PathChange) {
        var change = change
        if let from = change.origin, let earlier = self[from]?.origin { change = .moved(from: earlier) }
        self[path] = self[path].map { $0.then(change) } ?? change
    }
}
