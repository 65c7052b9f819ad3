import ArgumentParser
import Pipeline
import RunnerSystem

extension Runner {
    /// `runner explain P.lua PATH...`: which rule ignores a path, like `git check-ignore -v`.
    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say for each path whether a pipeline ignores it, and by which rule (file and line).")

        @OptionGroup var options: ScriptOptions

        @Argument(
            help: "Paths relative to the pipeline's source (or absolute, inside it). A trailing / means a directory.")
        var paths: [String]

        @Option(help: "Only this pipeline (default: every pipeline in the script).")
        var pipeline: String?

        func run() throws {
            try reportingErrors {
                var logger = options.makeLogger()
                let script = try options.load(&logger)
                var pipelines = try script.pipelines()
                if let pipeline {
                    pipelines = pipelines.filter { $0.name == pipeline }
                    guard !pipelines.isEmpty else {
                        throw ValidationError("no pipeline '\(pipeline)' in \(options.script)")
                    }
                }
                for p in pipelines {
                    let filter = try Filter(rules: p.ignore) { index, path, isDirectory in
                        try script.hooks.ignores(
                            pipeline: p.name, predicate: index, path: path, isDirectory: isDirectory)
                    }
                    for raw in paths {
                        var path = raw
                        if path.hasPrefix(p.source + "/") { path.removeFirst(p.source.count + 1) }
                        var isDirectory = path.hasSuffix("/")
                        while path.hasSuffix("/") { path.removeLast() }
                        if !isDirectory, FileInfo.lstat(p.source + "/" + path)?.kind == .directory {
                            isDirectory = true
                        }
                        let decision = try filter.decide(path, isDirectory: isDirectory)
                        let prefix = pipelines.count > 1 ? "\(p.name): " : ""
                        print("\(prefix)\(raw): \(decision.explanation)")
                    }
                }
            }
        }
    }
}
