/// A delta-engine failure: corrupt or hostile input, a wrong basis, or I/O.
/// Nothing is written when one is thrown (outputs go to a temporary file first).
public struct DeltaError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, with the offending value.
    public var message: String
    /// The file concerned, when known.
    public var path: String?

    /// A delta error.
    public init(_ message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }

    public var description: String { path.map { "\($0): \(message)" } ?? message }
}

/// The limits every length and count read from a signature or delta is checked
/// against before anything is allocated (the rsync CVE-2024-12084 class).
public enum DeltaLimits {
    /// Largest block length accepted.
    public static let maxBlockLength = 1 << 20
    /// Largest number of blocks in a signature.
    public static let maxBlockCount = 1 << 22
    /// Largest file size described (1 TiB).
    public static let maxFileSize: Int64 = 1 << 40
    /// Largest literal run in one operation.
    public static let maxLiteral = 1 << 20
    /// Strong sum length bounds, in bytes.
    public static let strongLengthRange = 4...16
}
