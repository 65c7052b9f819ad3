/// A protocol failure: a malformed or oversized frame, an unexpected message, a
/// refusal from the peer, or a broken connection. Names the frame when it can.
public struct WireError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// What the peer said, when the error is its refusal (an ERROR message).
    public var refusal: String?

    /// A protocol error.
    public init(_ message: String, refusal: String? = nil) {
        self.message = message
        self.refusal = refusal
    }

    public var description: String { message }

    /// The peer closed the connection before its first frame (a monitoring probe does).
    public static let closedBeforeHello = WireError("the peer closed the connection before its hello")
}
