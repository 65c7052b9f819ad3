import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Templates rendered for one destination without sending anything: `runner render`
/// prints one, `runner check` renders them all for every destination.
public enum RenderPreview {
    /// What `destination` gets for the source file `path` (relative to the source), and
    /// whether it is a template at all.
    public static func render(
        _ path: String, for destination: PipelineConfig.Destination, in config: PipelineConfig,
        hooks: (any PipelineHooks)?
    ) throws -> (bytes: [UInt8], isTemplate: Bool) {
        let full = FileSystem.join(config.source, path)
        guard FileInfo.lstat(full)?.kind == .file else {
            throw SystemError("render (not a regular file in the source)", path: full, code: nil)
        }
        let text = try Renderer.readTemplate(full)
        if config.hasRenderFunction, let hooks {
            let rendered = try hooks.render(
                pipeline: config.name, path: path, text: text, vars: destination.vars,
                target: destination.uri.description)
            return (rendered, true)
        }
        guard !config.render.isEmpty, try Filter(rules: config.render).isIgnored(path, isDirectory: false) else {
            return (text, false)
        }
        return (try TemplateRenderer.render(text, vars: destination.vars, file: path), true)
    }

    /// Every template of the source rendered for every destination: one line per failure.
    public static func check(_ config: PipelineConfig, hooks: (any PipelineHooks)?) throws -> [String] {
        guard !config.render.isEmpty || config.hasRenderFunction else { return [] }
        let filter = try Filter(rules: config.ignore)
        var failures: [String] = []
        func walk(_ path: String) throws {
            for name in DirectoryEntries.sorted(at: FileSystem.join(config.source, path)) {
                let child = path.isEmpty ? name : path + "/" + name
                let kind = FileInfo.lstat(FileSystem.join(config.source, child))?.kind
                // Predicates of `ignore` are Lua: `check` has no batch to run them for.
                if (try? filter.isIgnored(child, isDirectory: kind == .directory)) == true { continue }
                if kind == .directory { try walk(child) }
                guard kind == .file else { continue }
                for d in config.destinations {
                    do { _ = try render(child, for: d, in: config, hooks: hooks) } catch {
                        failures.append(
                            "pipeline '\(config.name)', \(d.group.map { "group \($0)" } ?? "\(d.uri)"): \(error)")
                    }
                }
            }
        }
        if let only = config.sourceFile {
            for d in config.destinations {
                do { _ = try render(only, for: d, in: config, hooks: hooks) } catch {
                    failures.append("pipeline '\(config.name)': \(error)")
                }
            }
        } else {
            try walk("")
        }
        return Array(Set(failures)).sorted()
    }
}
