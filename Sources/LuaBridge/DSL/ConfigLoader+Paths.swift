import FoundationEssentials
import Pipeline
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Paths a script names, made absolute against its own folder.
extension ConfigLoader {
    /// Relative paths are relative to the configuration file's folder.
    func resolvePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
            .path
    }

    /// The source as (directory, file name when the source is a single file). A directory
    /// keeps the path as written (made absolute): a symlink on the way (`current ->
    /// releases/N`) is followed by the runner, which watches it for a flip. A file's directory
    /// is resolved.
    func resolveSource(_ raw: String, what: String, at: SourceLocation) throws -> (String, String?) {
        let path = resolvePath(raw)
        let here = index.locateKey("source", after: at)
        guard let real = realpath(path, nil) else {
            throw ConfigError("\(what): 'source' \(path) does not exist", at: here)
        }
        let resolved = String(cString: real)
        free(real)
        switch FileInfo.lstat(resolved)?.kind {
        case .directory?:
            var written = URL(fileURLWithPath: path).standardizedFileURL.path
            while written.count > 1 && written.hasSuffix("/") { written.removeLast() }
            return (written, nil)
        case .file?:
            let url = URL(fileURLWithPath: resolved)
            return (url.deletingLastPathComponent().path, url.lastPathComponent)
        default:
            throw ConfigError("\(what): 'source' \(path) is neither a directory nor a regular file", at: here)
        }
    }
}
