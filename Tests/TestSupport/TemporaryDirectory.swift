import Foundation

/// A fresh directory under the system temp dir, removed with `remove()`.
public struct TemporaryDirectory: Sendable {
    /// Its absolute path (symlinks resolved).
    public let path: String

    /// Creates the directory.
    public init(_ prefix: String = "runner-test") throws {
        var template = Array("\(NSTemporaryDirectory())/\(prefix).XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        let made = String(cString: p)
        path = URL(fileURLWithPath: made).resolvingSymlinksInPath().path
    }

    /// A path inside it.
    public func at(_ relative: String) -> String { path + "/" + relative }

    /// Writes a file (creating parent directories) with a mode.
    @discardableResult
    public func write(_ relative: String, _ content: String, mode: Int = 0o644) throws -> String {
        let full = at(relative)
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(content.utf8).write(to: URL(fileURLWithPath: full))
        chmod(full, mode_t(mode))
        return full
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
/// This is how tests wait for asynchronous effects: never a bare sleep.
public func eventually(timeout: Double = 10, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return try condition()
}
