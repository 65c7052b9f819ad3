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

    /// Validates a path; the error says what is wrong with it.
    public init(validating raw: String) throws(TransferError) {
        let bytes = Array(raw.utf8)
        func reject(_ why: String) -> TransferError { TransferError("unsafe path: \(why)", path: raw) }
        guard !bytes.isEmpty else { throw reject("empty") }
        guard bytes.count <= RelativePath.maxLength else { throw reject("longer than \(RelativePath.maxLength) bytes") }
        guard !bytes.contains(0) else { throw reject("contains NUL") }
        guard bytes.first != UInt8(ascii: "/") else { throw reject("absolute") }
        let parts = raw.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts {
            guard !part.isEmpty else { throw reject("empty component") }
            guard part != ".", part != ".." else { throw reject("'\(part)' component") }
            guard part.utf8.count <= RelativePath.maxComponent else {
                throw reject("component longer than \(RelativePath.maxComponent) bytes")
            }
        }
        components = parts
    }

    /// The path as `a/b/c`.
    public var description: String { components.joined(separator: "/") }

    /// The parent's components.
    public var parent: ArraySlice<String> { components.dropLast() }

    /// The last component.
    public var name: String { components[components.count - 1] }
}
