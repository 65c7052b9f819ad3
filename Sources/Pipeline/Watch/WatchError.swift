/// A watcher failure, with the path it concerns and how to fix it.
public struct WatchError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String
    /// The directory concerned.
    public var path: String
    /// What to do about it, when known.
    public var hint: String?

    /// A watch error.
    public init(_ message: String, path: String, hint: String? = nil) {
        self.message = message
        self.path = path
        self.hint = hint
    }

    public var description: String { "\(path): \(message)" + (hint.map { " (\($0))" } ?? "") }
}
