import Foundation
import RunnerSystem

/// Random changes to a source tree, as editors, deploy scripts and people make them:
/// new files, same-size rewrites, appends, renames, replacement by rename, deletes, new and
/// renamed and removed directories, mode changes, and editor temp files (which a pipeline
/// ignoring `SourceChurn.tempPatterns` must never deliver). Seeded: a run replays.
public struct SourceChurn {
    /// What the churn did, by kind.
    public private(set) var counts: [String: Int] = [:]
    /// The ignore rules that cover every temp file the churn makes.
    public static let tempPatterns = ["*.swp", "*~", ".#*", "*.tmp"]

    private let root: String
    private var random: SplitMix
    private var serial = 0

    public init(root: String, seed: UInt64) {
        self.root = root
        random = SplitMix(state: seed)
    }

    /// Whether a relative path is a temp file's (its name matches `tempPatterns`).
    public static func isTemp(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasSuffix(".swp") || name.hasSuffix("~") || name.hasPrefix(".#") || name.hasSuffix(".tmp")
    }

    /// One random change.
    public mutating func step() {
        let files = list(directories: false), dirs = [""] + list(directories: true)
        let roll = Int.random(in: 0..<100, using: &random)
        let kind: String
        switch roll {
        case 0..<20 where files.count < 400: kind = write(in: pick(dirs))
        case 20..<32 where !files.isEmpty: kind = rewriteSameSize(pick(files))
        case 32..<38 where !files.isEmpty: kind = append(to: pick(files))
        case 38..<48 where !files.isEmpty: kind = rename(pick(files), into: pick(dirs))
        case 48..<58 where !files.isEmpty: kind = replaceByRename(pick(files))
        case 58..<66 where !files.isEmpty: kind = remove(pick(files))
        case 66..<72 where dirs.count < 40: kind = makeDirectory(in: pick(dirs))
        case 72..<75 where dirs.count > 1: kind = renameDirectory(pick(Array(dirs.dropFirst())))
        case 75..<77 where dirs.count > 1: kind = removeDirectory(pick(Array(dirs.dropFirst())))
        case 77..<82 where !files.isEmpty: kind = changeMode(pick(files))
        case 82..<100: kind = editorTemp(in: pick(dirs), files: files)
        default: kind = write(in: pick(dirs))
        }
        counts[kind, default: 0] += 1
    }

    private mutating func pick(_ list: [String]) -> String { list[Int.random(in: 0..<list.count, using: &random)] }

    private func full(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    private mutating func freshName(_ directory: String, suffix: String = ".conf") -> String {
        serial += 1
        return (directory.isEmpty ? "" : directory + "/") + "f\(serial)\(suffix)"
    }

    private mutating func bytes(_ count: Int) -> Data {
        Data((0..<count).map { _ in UInt8.random(in: 32...126, using: &random) })
    }

    private mutating func size() -> Int {
        let roll = Int.random(in: 0..<100, using: &random)
        return roll < 70
            ? Int.random(in: 0...2048, using: &random)
            : roll < 97
                ? Int.random(in: 2049...60_000, using: &random) : Int.random(in: 60_001...600_000, using: &random)
    }

    private mutating func write(in directory: String) -> String {
        FileManager.default.createFile(atPath: full(freshName(directory)), contents: bytes(size()))
        return "new file"
    }

    private mutating func rewriteSameSize(_ file: String) -> String {
        var st = stat()
        guard lstat(full(file), &st) == 0, let handle = FileHandle(forWritingAtPath: full(file)) else {
            return "same-size rewrite"
        }
        handle.write(bytes(Int(st.st_size)))
        try? handle.close()
        return "same-size rewrite"
    }

    private mutating func append(to file: String) -> String {
        guard let handle = FileHandle(forWritingAtPath: full(file)) else { return "append" }
        _ = try? handle.seekToEnd()
        handle.write(bytes(Int.random(in: 1...500, using: &random)))
        try? handle.close()
        return "append"
    }

    private mutating func rename(_ file: String, into directory: String) -> String {
        Foundation.rename(full(file), full(freshName(directory)))
        return "rename"
    }

    /// As editors and deploy tools save: a temp file beside it, renamed over it.
    private mutating func replaceByRename(_ file: String) -> String {
        let temp = full(file) + ".tmp"
        FileManager.default.createFile(atPath: temp, contents: bytes(size()))
        Foundation.rename(temp, full(file))
        return "replace by rename"
    }

    private mutating func remove(_ file: String) -> String {
        unlink(full(file))
        return "delete"
    }

    private mutating func makeDirectory(in directory: String) -> String {
        serial += 1
        let made = (directory.isEmpty ? "" : directory + "/") + "d\(serial)"
        mkdir(full(made), 0o755)
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            FileManager.default.createFile(atPath: full(freshName(made)), contents: bytes(size()))
        }
        return "new directory"
    }

    private mutating func renameDirectory(_ directory: String) -> String {
        serial += 1
        Foundation.rename(full(directory), full("d\(serial)"))
        return "rename directory"
    }

    private mutating func removeDirectory(_ directory: String) -> String {
        try? FileManager.default.removeItem(atPath: full(directory))
        return "remove directory"
    }

    private mutating func changeMode(_ file: String) -> String {
        chmod(full(file), Bool.random(using: &random) ? 0o600 : 0o644)
        return "mode change"
    }

    /// Vim's swap file, Emacs' lock and backup: made, and left or removed.
    private mutating func editorTemp(in directory: String, files: [String]) -> String {
        let base = files.isEmpty ? freshName(directory) : pick(files)
        let name = (base as NSString).lastPathComponent, parent = (base as NSString).deletingLastPathComponent
        let temp = [".\(name).swp", ".#\(name)", "\(name)~"][Int.random(in: 0..<3, using: &random)]
        let path = full(parent.isEmpty ? temp : parent + "/" + temp)
        if Bool.random(using: &random) {
            FileManager.default.createFile(atPath: path, contents: bytes(Int.random(in: 0...4096, using: &random)))
        } else {
            unlink(path)
        }
        return "editor temp file"
    }

    private func list(directories: Bool) -> [String] {
        var out: [String] = []
        var stack = [""]
        while let directory = stack.popLast() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: full(directory))) ?? []
            for name in names.sorted() {
                let relative = directory.isEmpty ? name : directory + "/" + name
                var st = stat()
                guard lstat(full(relative), &st) == 0 else { continue }
                if st.st_mode & S_IFMT == S_IFDIR {
                    stack.append(relative)
                    if directories { out.append(relative) }
                } else if !directories && !SourceChurn.isTemp(relative) {
                    out.append(relative)
                }
            }
        }
        return out
    }
}
