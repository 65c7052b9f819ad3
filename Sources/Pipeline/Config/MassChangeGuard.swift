/// `guard = { max_deleted = "20%", max_changed = "50%" }`: a revision that deletes or changes
/// more of the tree than this, against what a group may have now, waits there for
/// `runner approve` (as a mass delete should, before it reaches any host).
public struct MassChangeGuard: Sendable, Equatable {
    /// A count of paths, or a share of the tree's paths.
    public enum Limit: Sendable, Equatable, CustomStringConvertible {
        case count(Int)
        case percent(Double)

        /// Whether `n` paths of a tree of `total` are over the limit.
        public func exceeded(by n: Int, of total: Int) -> Bool {
            switch self {
            case .count(let limit): n > limit
            case .percent(let p): Double(n) > Double(total) * p / 100
            }
        }

        public var description: String {
            switch self {
            case .count(let n): "\(n)"
            case .percent(let p): p == p.rounded() ? "\(Int(p))%" : "\(p)%"
            }
        }
    }

    public var maxDeleted: Limit?
    public var maxChanged: Limit?

    /// A guard.
    public init(maxDeleted: Limit? = nil, maxChanged: Limit? = nil) {
        self.maxDeleted = maxDeleted
        self.maxChanged = maxChanged
    }

    /// Why a change of `deleted` and `changed` paths (deletions included) in a tree of
    /// `total` paths waits for approval; nil when it may go.
    public func trips(deleted: Int, changed: Int, of total: Int) -> String? {
        var why: [String] = []
        if let limit = maxDeleted, limit.exceeded(by: deleted, of: total) {
            why.append("\(deleted) of \(total) paths deleted (guard max_deleted = \(limit))")
        }
        if let limit = maxChanged, limit.exceeded(by: changed, of: total) {
            why.append("\(changed) of \(total) paths changed (guard max_changed = \(limit))")
        }
        return why.isEmpty ? nil : why.joined(separator: "; ")
    }
}
