/// What a target holds at a path, as `--dry-run` reads it to show a diff.
public enum TargetFileContent: Equatable, Sendable {
    /// No regular file there.
    case absent
    /// A file larger than `limit`, not read.
    case tooLarge
    case bytes([UInt8])

    /// The largest file read (what one wire frame carries): rendered configs are small,
    /// and a diff of more says little.
    public static let limit = WireMessage.maxContent
}
