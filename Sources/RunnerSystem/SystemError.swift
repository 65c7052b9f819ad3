#if canImport(Glibc)
    import Glibc
#endif

/// A system call that failed: which operation, on which path, and the errno it set.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    /// The operation, as a person reads it (`open`, `rename to /srv/x`, `spawn ssh`).
    public var operation: String
    /// The path (or other object) it was applied to, when there is one.
    public var path: String?
    /// The errno value, when the failure came from the system.
    public var code: Int32?

    /// A failure of `operation` on `path` with errno `code` (by default, the current errno).
    public init(_ operation: String, path: String? = nil, code: Int32? = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// The text of an errno value.
    public static func text(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// "operation failed: reason", without the path.
    public var reason: String { code.map { "\(operation) failed: \(SystemError.text($0))" } ?? "\(operation) failed" }

    public var description: String { path.map { "\($0): \(reason)" } ?? reason }
}
