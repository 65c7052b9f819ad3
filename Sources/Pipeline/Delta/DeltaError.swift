/// A delta-engine failure: corrupt or hostile input, a wrong basis, or I/O.
/// Nothing is written when one is thrown (outputs go to a temporary file first).
public struct DeltaError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure, for callers that act on it (a transfer sends a file again
    /// whole when its delta met another basis than the one it was made for).
    public enum Kind: Sendable, Equatable {
        /// Malformed, hostile or over-limit input, or a failed read or write.
        case invalid
        /// The basis is not the file the signature was made from: its size differs,
        /// or the rebuilt file fails the delta's whole-file check.
        case basisMismatch
    }

    /// What went wrong, with the offending value.
    public var message: String
    /// The file concerned, when known.
    public var path: String?
    /// The kind of failure.
    public var kind: Kind

    /// A delta error.
    public init(_ message: String, path: String? = nil, kind: Kind = .invalid) {
        self.message = message
        self.path = path
        self.kind = kind
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}
