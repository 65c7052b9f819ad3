import Pipeline

/// Finds where things were written in the loaded Lua files, for messages that point
/// at the key or the rule itself rather than only at the `pipeline "x" {` line.
/// Lua keeps no line per table field, so this scans the source text.
struct SourceIndex {
    private var files: [String: [Substring]] = [:]
    private var order: [String] = []

    init(_ sources: [(path: String, text: String)]) {
        for (path, text) in sources where files[path] == nil {
            files[path] = text.split(separator: "\n", omittingEmptySubsequences: false)
            order.append(path)
        }
    }

    /// The line of `key =` at or after `start` (the call's line), else `start`.
    func locateKey(_ key: String, after start: SourceLocation) -> SourceLocation {
        guard let lines = files[start.file], start.line > 0 else { return start }
        for i in (start.line - 1)..<min(lines.count, start.line - 1 + 400)
        where SourceIndex.line(lines[i], assigns: key) {
            return SourceLocation(file: start.file, line: i + 1)
        }
        return start
    }

    /// Where a string literal with this text was written: first at or after `start`
    /// in its file, then anywhere in the other loaded files (plugins).
    func locateLiteral(_ text: String, near start: SourceLocation?) -> SourceLocation? {
        let quoted = ["\"\(SourceIndex.escaped(text))\"", "'\(SourceIndex.escaped(text))'", "[[\(text)]]"]
        if let start, let lines = files[start.file], start.line > 0 {
            for i in (start.line - 1)..<lines.count where quoted.contains(where: { lines[i].contains($0) }) {
                return SourceLocation(file: start.file, line: i + 1)
            }
        }
        for path in order where path != start?.file {
            for (i, line) in files[path]!.enumerated() where quoted.contains(where: { line.contains($0) }) {
                return SourceLocation(file: path, line: i + 1)
            }
        }
        return nil
    }

    private static func escaped(_ s: String) -> String {
        s.replacing("\\", with: "\\\\")
    }

    /// Whether the line has `key =` (not `==`) with `key` as a whole word.
    static func line(_ line: Substring, assigns key: String) -> Bool {
        var rest = line[...]
        while let r = rest.firstRange(of: key) {
            let before = r.lowerBound == line.startIndex ? nil : line[line.index(before: r.lowerBound)]
            let wordBefore = before.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "\"" } ?? false
            var after = line[r.upperBound...].drop(while: { $0 == " " || $0 == "\t" })
            if !wordBefore, after.first == "=" {
                after = after.dropFirst()
                if after.first != "=" { return true }
            }
            rest = line[r.upperBound...]
        }
        return false
    }
}
