/// What happened to a path in a batch, as far as the watcher saw. The last word wins
/// (written, then deleted, is deleted), except that a change of attributes never hides
/// a write.
public enum PathChange: Sendable, Equatable {
    /// Created, written, or moved in.
    case written
    /// Only mode, owner or times changed.
    case attributes
    /// Removed, or moved away.
    case deleted

    /// This change followed by `later`.
    func then(_ later: PathChange) -> PathChange {
        self == .written && later == .attributes ? .written : later
    }
}
