/// A unified diff of two texts by lines, for `--dry-run`: what a rendered file would change
/// at a receiver. A longest common subsequence (config files are short: past four million
/// line pairs, only "differ" is said), then hunks with three lines of context.
enum UnifiedDiff {
    private enum Edit: Equatable { case same(Int, Int), removed(Int), added(Int) }

    /// `diff`, or for a secret only how many bytes changed (the span between the longest
    /// common prefix and suffix): its content is never shown.
    static func masked(_ old: [UInt8], _ new: [UInt8], oldName: String, newName: String, secret: Bool) -> String? {
        guard secret else { return diff(old, new, oldName: oldName, newName: newName) }
        guard old != new else { return nil }
        var prefix = 0
        while prefix < min(old.count, new.count) && old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < min(old.count, new.count) - prefix && old[old.count - 1 - suffix] == new[new.count - 1 - suffix]
        {
            suffix += 1
        }
        let changed = max(old.count, new.count) - prefix - suffix
        return "--- \(oldName)\n+++ \(newName)\n(secret: \(changed) bytes changed)\n"
    }

    static func diff(_ old: [UInt8], _ new: [UInt8], oldName: String, newName: String) -> String? {
        guard old != new else { return nil }
        let a = lines(old), b = lines(new)
        guard a.count * b.count <= 4_000_000 else {
            return "--- \(oldName)\n+++ \(newName)\n(differ; too long to show line by line)\n"
        }
        // lcs[i][j]: the longest common subsequence of a[i...] and b[j...].
        var lcs = [[Int32]](repeating: [Int32](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var edits: [Edit] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] {
                edits.append(.same(i, j))
                i += 1
                j += 1
            } else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] {
                // Removals before additions, as diff(1) prints them.
                edits.append(.removed(i))
                i += 1
            } else {
                edits.append(.added(j))
                j += 1
            }
        }
        var out = "--- \(oldName)\n+++ \(newName)\n"
        var k = 0
        while let first = edits[k...].firstIndex(where: { if case .same = $0 { return false } else { return true } }) {
            // A hunk: from 3 lines before the first change to 3 after the last change that
            // is at most 6 unchanged lines from the next.
            var end = first
            var last = first
            while end < edits.count {
                if case .same = edits[end] {
                    if end - last > 6 { break }
                } else {
                    last = end
                }
                end += 1
            }
            let start = max(k, first - 3), stop = min(edits.count, last + 4)
            let hunk = edits[start..<stop]
            let (oldStart, newStart) = origin(edits, start)
            let oldCount = hunk.filter { if case .added = $0 { return false } else { return true } }.count
            let newCount = hunk.filter { if case .removed = $0 { return false } else { return true } }.count
            out += "@@ -\(oldStart + 1),\(oldCount) +\(newStart + 1),\(newCount) @@\n"
            for edit in hunk {
                switch edit {
                case .same(let x, _): out += " " + a[x] + "\n"
                case .removed(let x): out += "-" + a[x] + "\n"
                case .added(let y): out += "+" + b[y] + "\n"
                }
            }
            k = stop
        }
        return out
    }

    /// The old and new line numbers at edit `index`.
    private static func origin(_ edits: [Edit], _ index: Int) -> (Int, Int) {
        var old = 0, new = 0
        for edit in edits[..<index] {
            switch edit {
            case .same: old += 1; new += 1
            case .removed: old += 1
            case .added: new += 1
            }
        }
        return (old, new)
    }

    /// A text's lines. A last line without its newline carries diff(1)'s marker, so that it
    /// differs from the same line with one and prints as diff prints it.
    private static func lines(_ bytes: [UInt8]) -> [String] {
        guard !bytes.isEmpty else { return [] }
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init)
        if lines.last == "" {
            lines.removeLast()
        } else {
            lines[lines.count - 1] += "\n\\ No newline at end of file"
        }
        return lines
    }
}
