import RunnerSystem

/// What going from one revision to another changes at a host, as text: a unified diff of
/// each file, templates rendered with the host's values, and files matching the pipeline's
/// `secret` globs shown by how many bytes changed, never by their content. `runner diff`
/// and `runner rollback --dry-run` print it.
struct RevisionDiffText {
    let log: RevisionLog
    let config: PipelineConfig
    let hooks: (any PipelineHooks)?

    /// The diff for `destination` (nil `from`: everything in `to`).
    func text(from: RevisionRecord?, to: RevisionRecord, for destination: PipelineConfig.Destination) throws -> String {
        let secrets = config.secret.isEmpty ? nil : try Filter(rules: config.secret)
        let templates = config.render.isEmpty ? nil : try Filter(rules: config.render)
        let diff = try log.diff(from: from, to: to)
        guard let new = log.tree(to) else { return "" }
        let old = from.flatMap { log.tree($0) }
        var out = ""
        for path in diff.paths {
            if let was = try old?.info(path), let now = try new.info(path) { out += Self.attributes(path, was, now) }
            let before = try old?.contentHash(path), after = try new.contentHash(path)
            guard before != nil || after != nil else {
                out += "\(path): \(try new.info(path) == nil ? "removed" : "changed") (not a file)\n"
                continue
            }
            var a = try before.map { try log.store.read($0, limit: 16 << 20) } ?? []
            var b = try after.map { try log.store.read($0, limit: 16 << 20) } ?? []
            if try config.hasRenderFunction || templates?.isIgnored(path, isDirectory: false) == true {
                do {
                    a = before == nil ? [] : try render(path, a, for: destination)
                    b = after == nil ? [] : try render(path, b, for: destination)
                } catch {
                    out += "\(path): does not render for \(destination.uri): \(error)\n"
                    continue
                }
            }
            out +=
                UnifiedDiff.masked(
                    a, b, oldName: before == nil ? "/dev/null" : "a/\(path)",
                    newName: after == nil ? "/dev/null" : "b/\(path)",
                    secret: try secrets?.isIgnored(path, isDirectory: false) == true) ?? ""
        }
        return out
    }

    /// A change of mode or owner, as git says a change of mode (`old mode` / `new mode`).
    static func attributes(_ path: String, _ was: FileInfo, _ now: FileInfo) -> String {
        var out = ""
        if was.mode != now.mode, now.kind != .symlink {
            out += "\(path): mode \(String(was.mode, radix: 8)) -> \(String(now.mode, radix: 8))\n"
        }
        if was.uid != now.uid || was.gid != now.gid {
            out += "\(path): owner \(owner(was)) -> \(owner(now))\n"
        }
        return out
    }

    /// `user:group` by name where this host has one, else by number.
    static func owner(_ info: FileInfo) -> String {
        func shown(_ id: UInt32, _ name: String?) -> String { id == FileInfo.unchanged ? "?" : name ?? String(id) }
        return shown(info.uid, UserDatabase.userName(info.uid)) + ":"
            + shown(info.gid, UserDatabase.groupName(info.gid))
    }

    private func render(_ path: String, _ text: [UInt8], for d: PipelineConfig.Destination) throws -> [UInt8] {
        if config.hasRenderFunction, let hooks {
            return try hooks.render(
                pipeline: config.name, path: path, text: text, vars: d.vars, target: d.uri.description)
        }
        return try TemplateRenderer.render(text, vars: d.vars, file: path)
    }
}
