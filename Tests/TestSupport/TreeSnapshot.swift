import Foundation

/// A tree as a map of relative path to what a sync must preserve: kind, mode,
/// bytes (files) or destination (symlinks). Two trees are in sync when equal.
public struct TreeSnapshot: Equatable, CustomStringConvertible {
    /// One entry.
    public enum Entry: Equatable {
        case file(mode: UInt32, bytes: Data)
        case directory(mode: UInt32)
        case symlink(String)
        case other
    }

    /// Entries by relative path.
    public var entries: [String: Entry]

    /// Reads a tree; `excluding` drops relative paths (and what is below them).
    public init(_ root: String, excluding: (String) -> Bool = { _ in false }) {
        entries = [:]
        walk(root, "", excluding)
    }

    private mutating func walk(_ root: String, _ relative: String, _ excluding: (String) -> Bool) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        for name in names {
            let rel = relative.isEmpty ? name : relative + "/" + name
            if excluding(rel) { continue }
            let full = root + "/" + rel
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            let mode = UInt32(st.st_mode & 0o7777)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                entries[rel] = .directory(mode: mode)
                walk(root, rel, excluding)
            case S_IFREG:
                entries[rel] = .file(mode: mode, bytes: FileManager.default.contents(atPath: full) ?? Data())
            case S_IFLNK:
                entries[rel] = .symlink((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "")
            default:
                entries[rel] = .other
            }
        }
    }

    /// The paths whose entries differ between two snapshots, for failure messages.
    public func differences(from other: TreeSnapshot) -> [String] {
        Set(entries.keys).union(other.entries.keys).sorted().filter { entries[$0] != other.entries[$0] }
    }

    public var description: String { entries.keys.sorted().joined(separator: ", ") }
}
