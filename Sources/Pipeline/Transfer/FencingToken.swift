import Synchronization

/// The token a sender's sessions carry in their hello: its leader key's create_revision while
/// it leads (0 for a sender without coordination). The run loop sets it when it takes over;
/// each host's worker reads it when it opens a session, and a session opened under an older
/// token is closed and opened afresh, so every batch travels under the token of its term.
public final class FencingToken: Sendable {
    private let value = Mutex<UInt64>(0)

    public init() {}

    /// The token now.
    public var current: UInt64 { value.withLock { $0 } }

    /// Sets the token of a new term.
    public func set(_ token: UInt64) { value.withLock { $0 = token } }
}
