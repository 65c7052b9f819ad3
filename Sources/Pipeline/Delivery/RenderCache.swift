import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One target's rendered templates, kept under the state directory and laid over the
/// source when a batch is sent (`SourceTree`). A rendered file is rewritten only when its
/// bytes change, so its time holds across restarts and the receiver's quick check stays
/// right; a template whose values change gets new bytes, hence a new time, and is sent.
final class RenderCache {
    /// The cache's root (`<state_dir>/<pipeline>/render/<target>`).
    let directory: String
    /// The target's values: built-ins, its group's, its own.
    let vars: [String: String]
    /// Batches refused for this target by a template that would not render, sent with the fix.
    var held = PendingChanges()

    /// Which source files are templates, and how to render one (a Lua function's, or nil
    /// for `{{ NAME }}` placeholders).
    struct Rules {
        let templates: Filter?
        let function: ((String, [UInt8]) throws -> [UInt8])?
    }

    init(directory: String, vars: [String: String]) throws(SystemError) {
        self.directory = directory
        self.vars = vars
        try FileSystem.makeDirectories(directory, mode: 0o700)
    }

    /// Renders the templates a batch touches (the whole tree for a full rescan) into the
    /// cache, and drops what is no longer a template; the first failure is thrown.
    func update(_ batch: ChangeBatch, source: String, filter: Filter, rules: Rules) throws {
        if batch.fullRescan {
            try visit("", source: source, filter: filter, rules: rules)
            try prune("", source: source, rules: rules)
        } else {
            for path in batch.paths { try visit(path, source: source, filter: filter, rules: rules) }
        }
    }

    private func visit(_ path: String, source: String, filter: Filter, rules: Rules) throws {
        let info = FileInfo.lstat(FileSystem.join(source, path))
        if !path.isEmpty, try filter.isIgnored(path, isDirectory: info?.kind == .directory) { return forget(path) }
        switch info?.kind {
        case .directory?:
            for name in DirectoryEntries.sorted(at: FileSystem.join(source, path)) {
                try visit(path.isEmpty ? name : path + "/" + name, source: source, filter: filter, rules: rules)
            }
        case .file?:
            guard try isTemplate(path, rules) else { return forget(path) }
            try render(path, source: source, mode: info!.mode, rules: rules)
        default:
            forget(path)
        }
    }

    private func isTemplate(_ path: String, _ rules: Rules) throws -> Bool {
        if rules.function != nil { return true }
        return try rules.templates?.isIgnored(path, isDirectory: false) ?? false
    }

    private func render(_ path: String, source: String, mode: UInt32, rules: Rules) throws {
        let text = try Self.readTemplate(FileSystem.join(source, path))
        let rendered: [UInt8]
        if let function = rules.function {
            rendered = try function(path, text)
        } else {
            rendered = try TemplateRenderer.render(text, vars: vars, file: path)
        }
        let cached = directory + "/" + path
        if (try? Self.readTemplate(cached)) == rendered {
            chmod(cached.cPath, mode_t(mode))
            return
        }
        if let slash = path.lastIndex(of: "/") {
            try FileSystem.makeDirectories(directory + "/" + path[..<slash], mode: 0o700)
        }
        if FileInfo.lstat(cached)?.kind == .directory { try FileSystem.removeTree(cached) }
        // Named per process: a `--dry-run` renders into the same cache as the running service.
        try FileSystem.replace(cached, with: rendered, temporary: cached + ".runner-render-\(getpid())", mode: mode)
    }

    /// Drops cached files whose source is gone or no longer a template (a full rescan).
    private func prune(_ path: String, source: String, rules: Rules) throws {
        for name in DirectoryEntries.sorted(at: FileSystem.join(directory, path)) {
            let child = path.isEmpty ? name : path + "/" + name
            switch FileInfo.lstat(directory + "/" + child)?.kind {
            case .directory?: try prune(child, source: source, rules: rules)
            default:
                let template = try isTemplate(child, rules)
                if FileInfo.lstat(FileSystem.join(source, child))?.kind != .file || !template { forget(child) }
            }
        }
    }

    private func forget(_ path: String) {
        guard !path.isEmpty else { return }
        try? FileSystem.removeTree(directory + "/" + path)
    }

    /// A template's bytes (templates are configuration files: 16 MiB at most).
    static func readTemplate(_ path: String) throws -> [UInt8] {
        let file = try FileDescriptor(opening: path, O_RDONLY | O_NOFOLLOW)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(file.raw, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemError("read", path: path) }
            if n == 0 { return bytes }
            bytes += buffer[..<n]
            guard bytes.count <= 16 << 20 else {
                throw SystemError("render (a template over 16 MiB)", path: path, code: nil)
            }
        }
    }
}
