import FoundationEssentials
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Renders a revision's templates for one host into the content store: `{{ NAME }}` from the
/// host's values, or the pipeline's Lua `render(path, text, vars, target)`. What a host gets is
/// its revision with these laid over it (`RevisionTree`). A template renders once per content
/// and host values; an undefined name refuses the revision for that host (`Refusal`). Runs on
/// the run loop's thread (a Lua function is called there).
final class Renderer {
    /// A template that would not render for a host.
    struct Refusal: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Which files are templates, and a Lua function that renders them (nil: placeholders).
    let templates: Filter?
    let function: ((_ path: String, _ text: [UInt8], _ vars: [String: String], _ target: String) throws -> [UInt8])?
    private var memo: [Key: RenderedFile] = [:]

    private struct Key: Hashable {
        let path: String
        let template: ContentHash
        let host: String
    }

    init(
        templates: Filter?,
        function: ((_ path: String, _ text: [UInt8], _ vars: [String: String], _ target: String) throws -> [UInt8])?
    ) {
        self.templates = templates
        self.function = function
    }

    /// Whether the pipeline renders at all.
    var renders: Bool { templates != nil || function != nil }

    /// What a destination's templates are rendered with: its values and the rules (nil when
    /// nothing is rendered). A change of it makes the host compared whole.
    func key(for destination: PipelineConfig.Destination) -> String? {
        guard renders else { return nil }
        let values = destination.vars.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let rules = templates?.rules.map(\.text) ?? []
        let text = Array(
            (values + ["--", function == nil ? "placeholders" : "function"] + rules).joined(separator: "\n").utf8)
        return text.withUnsafeBytes { ContentHash(StrongHash.digest($0, seed: 0)) }.description
    }

    /// The host's rendered templates among `paths` of `tree` (every one for nil; a directory
    /// covers what is below it), stored; the first that will not render refuses them all.
    func overlay(
        _ tree: RevisionTree, paths: [String]?, for destination: PipelineConfig.Destination, store: ContentStore
    ) throws -> [String: RenderedFile] {
        guard renders else { return [:] }
        var overlay: [String: RenderedFile] = [:]
        func visit(_ path: String) throws {
            guard let info = try tree.info(path) else { return }
            switch info.kind {
            case .directory:
                for entry in try tree.entries(path) { try visit(path.isEmpty ? entry.name : path + "/" + entry.name) }
            case .file:
                guard try isTemplate(path), let template = try tree.contentHash(path), let content = try tree.open(path)
                else { return }
                overlay[path] = try render(path, template, content, for: destination, store: store)
            default:
                return
            }
        }
        for path in SyncPlanner.outermost(paths ?? [""]) { try visit(path) }
        return overlay
    }

    private func isTemplate(_ path: String) throws -> Bool {
        if function != nil { return true }
        return try templates?.isIgnored(path, isDirectory: false) ?? false
    }

    private func render(
        _ path: String, _ template: ContentHash, _ content: borrowing SourceContent,
        for destination: PipelineConfig.Destination, store: ContentStore
    ) throws -> RenderedFile {
        let key = Key(path: path, template: template, host: destination.uri.description)
        if let known = memo[key], store.contains(known.hash) { return known }
        guard let text = try ContentStore.readAll(content.file.raw, limit: Self.templateLimit, shown: path) else {
            throw Refusal(message: "\(path): a template over 16 MiB")
        }
        let rendered: [UInt8]
        do {
            if let function {
                rendered = try function(path, text, destination.vars, destination.uri.description)
            } else {
                rendered = try TemplateRenderer.render(text, vars: destination.vars, file: path)
            }
        } catch {
            throw Refusal(message: "\(error)")
        }
        let file = RenderedFile(hash: try store.put(rendered), size: Int64(rendered.count))
        if memo.count > 10_000 { memo.removeAll(keepingCapacity: true) }
        memo[key] = file
        return file
    }

    /// Forgets what it rendered (the store was collected).
    func forget() { memo.removeAll() }

    /// Templates are configuration files: 16 MiB at most.
    static let templateLimit = 16 << 20

    /// A template's bytes from the source (`runner render`, `runner check`).
    static func readTemplate(_ path: String) throws -> [UInt8] {
        let file = try FileDescriptor(opening: path, O_RDONLY | O_NOFOLLOW)
        guard let bytes = try ContentStore.readAll(file.raw, limit: templateLimit, shown: path) else {
            throw SystemError("render (a template over 16 MiB)", path: path, code: nil)
        }
        return bytes
    }
}
