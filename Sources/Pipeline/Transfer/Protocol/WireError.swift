/// A protocol failure: a malformed or oversized frame, an unexpected message, a
/// refusal from the peer, or a broken connection. Names the frame when it can.
public struct WireError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String

    /// A protocol error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
