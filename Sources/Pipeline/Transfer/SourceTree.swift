import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The tree a batch is sent from: the pipeline's source, with a host's render cache laid
/// over it (its rendered templates, by path). Only regular files are overlaid: names,
/// directories and links come from the source; an overlaid file's size, mode and time
/// are those of the rendered file, so the quick check and the delta compare rendered bytes.
public struct SourceTree: Sendable, Equatable {
    /// The source root, absolute.
    public let root: String
    /// The render cache, when templates are rendered for this target.
    public let overlay: String?

    /// The source, with `overlay` laid over it.
    public init(root: String, overlay: String? = nil) {
        self.root = root
        self.overlay = overlay
    }

    /// The rendered file at `path`, if there is one.
    private func overlaid(_ path: String) -> (String, FileInfo)? {
        guard let overlay, !path.isEmpty else { return nil }
        let full = overlay + "/" + path
        guard let info = FileInfo.lstat(full), info.kind == .file else { return nil }
        return (full, info)
    }

    /// The entry at `path` (not following a final symlink), or nil.
    public func info(_ path: String) -> FileInfo? {
        if let (_, info) = overlaid(path), FileInfo.lstat(FileSystem.join(root, path))?.kind == .file { return info }
        return FileInfo.lstat(FileSystem.join(root, path))
    }

    /// The entries of a directory of the source with what `info` says of each, sorted.
    public func entries(_ path: String) -> [(name: String, info: FileInfo)] {
        let full = FileSystem.join(root, path)
        guard let directory = try? FileDescriptor(opening: full, O_RDONLY | O_DIRECTORY) else { return [] }
        let entries = DirectoryEntries.withInfo(of: directory, shown: full)
        guard overlay != nil else { return entries }
        return entries.map { entry in
            let child = path.isEmpty ? entry.name : path + "/" + entry.name
            return (entry.name, entry.info.kind == .file ? overlaid(child)?.1 ?? entry.info : entry.info)
        }
    }

    /// A symlink's destination.
    public func readLink(_ path: String) -> String? { FileSystem.readLink(FileSystem.join(root, path)) }

    /// Where to read the content at `path`: the rendered file, or the source's.
    public func contentPath(_ path: String) -> String {
        if let (full, _) = overlaid(path), FileInfo.lstat(FileSystem.join(root, path))?.kind == .file { return full }
        return FileSystem.join(root, path)
    }
}
