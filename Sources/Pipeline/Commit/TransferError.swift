import RunnerSystem

/// A change to a tree that failed: an unsafe path, a batch abandoned or refused, or a
/// system call (with its errno) while staging, committing or rolling back.
public struct TransferError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String
    /// The path concerned.
    public var path: String
    /// The errno, when a system call failed.
    public var code: Int32?

    /// A transfer error.
    public init(_ message: String, path: String, code: Int32? = nil) {
        self.message = message
        self.path = path
        self.code = code
    }

    /// A failed system call.
    public init(_ error: SystemError) {
        self.init(error.reason, path: error.path ?? "", code: error.code)
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

extension TransferError {
    /// Runs file-system work, turning its `SystemError` into a `TransferError`.
    static func wrapping<T: ~Copyable>(_ body: () throws(SystemError) -> T) throws(TransferError) -> T {
        do { return try body() } catch { throw TransferError(error) }
    }
}
