import RunnerSystem

/// A path inside a module or target, checked before it is used: relative, no `.`
/// or `..` components, no empty components, no NUL, bounded lengths. Whatever a
/// peer sends, a `RelativePath` cannot name anything outside the tree.
public struct RelativePath: Hashable, Sendable, CustomStringConvertible {
    /// Longest path accepted, in bytes.
    public static let maxLength = 4096
    /// Longest component accepted, in bytes (NAME_MAX).
    public static let maxComponent = 255

    /// The components, in order.
    public let components: [String]
    /// The path as `a/b/c`, as it was validated.
    public let description: String

    /// Validates a path; the error says what is wrong with it.
    public init(validating raw: String) throws(TransferError) {
        func reject(_ why: String) -> TransferError { TransferError("unsafe path: \(why)", path: raw) }
        let bytes = raw.utf8
        guard !bytes.isEmpty else { throw reject("empty") }
        guard bytes.count <= RelativePath.maxLength || FileName.byteCount(raw[...].utf8) <= RelativePath.maxLength
        else { throw reject("longer than \(RelativePath.maxLength) bytes") }
        guard bytes.first != UInt8(ascii: "/") else { throw reject("absolute") }
        // One pass over the bytes: a peer sends a path for every file of a batch.
        var parts: [String] = []
        var start = bytes.startIndex
        var index = start
        while true {
            let atEnd = index == bytes.endIndex
            if atEnd || bytes[index] == UInt8(ascii: "/") {
                let part = Substring(bytes[start..<index])
                try Self.checkName(part, of: raw)
                parts.append(String(part))
                if atEnd { break }
                start = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
        components = parts
        description = raw
    }

    /// Checks one component of `raw` (a name in a directory, without `/`): not empty, `.`
    /// or `..`, no NUL, at most `maxComponent` bytes.
    public static func checkName(_ part: Substring, of raw: String) throws(TransferError) {
        func reject(_ why: String) -> TransferError { TransferError("unsafe path: \(why)", path: raw) }
        let bytes = part.utf8
        guard !bytes.isEmpty else { throw reject("empty component") }
        if bytes.contains(0) { throw reject("contains NUL") }
        if bytes.elementsEqual(".".utf8) || bytes.elementsEqual("..".utf8) { throw reject("'\(part)' component") }
        guard bytes.count <= RelativePath.maxComponent || FileName.byteCount(bytes) <= RelativePath.maxComponent
        else { throw reject("component longer than \(RelativePath.maxComponent) bytes") }
    }

    /// A path of components already checked (a checked path's parent; none: the root).
    init(trusted components: ArraySlice<String>) {
        self.components = Array(components)
        description = components.joined(separator: "/")
    }

    /// The parent's components.
    public var parent: ArraySlice<String> { components.dropLast() }

    /// The last component.
    public var name: String { components[components.count - 1] }

    /// A path's text split at its last `/`: its parent's path ("" for the root's entries)
    /// and its name.
    public static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }
}

extension RelativePath {
    /// Where a symlink at this path with `destination` points, resolved by its text alone
    /// within a tree rooted at `root` (absolute): nil when it leaves the tree (`..` above
    /// the root, or an absolute destination outside `root`). Links met on the way are not
    /// followed: each link is checked where it is placed, so a chain of safe links stays inside.
    public func linkStaysInside(_ destination: String, root: String) -> Bool {
        var parts: [Substring]
        if destination.hasPrefix("/") {
            let base = root.hasSuffix("/") ? root : root + "/"
            guard destination.hasPrefix(base) || destination == root else { return false }
            parts = []
            for part in destination.dropFirst(base.count).split(separator: "/") { parts.append(part) }
            return Self.normalizes(parts, from: [])
        }
        parts = destination.split(separator: "/")
        return Self.normalizes(parts, from: components.dropLast().map { Substring($0) })
    }

    /// Walks `parts` from `start`; false when `..` climbs above the root.
    private static func normalizes(_ parts: [Substring], from start: [Substring]) -> Bool {
        var stack = start
        for part in parts where part != "." && !part.isEmpty {
            if part == ".." {
                guard !stack.isEmpty else { return false }
                stack.removeLast()
            } else {
                stack.append(part)
            }
        }
        return true
    }
}
