/// A place in a configuration file: the file and the 1-based line.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named when loaded.
    public var file: String
    /// 1-based line number; 0 when unknown.
    public var line: Int

    /// A location.
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }
}
