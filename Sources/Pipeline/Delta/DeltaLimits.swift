/// The limits every length and count read from a signature or delta is checked
/// against before anything is allocated (the rsync CVE-2024-12084 class), and that
/// every signature made here stays within.
public enum DeltaLimits {
    /// Largest block length accepted.
    public static let maxBlockLength = 1 << 20
    /// Largest number of blocks in a signature.
    public static let maxBlockCount = 1 << 22
    /// Largest file size described (1 TiB).
    public static let maxFileSize: Int64 = 1 << 40
    /// Largest literal run in one operation.
    public static let maxLiteral = 1 << 20
    /// Strong sum length bounds, in bytes: under 8, a collision could be searched for.
    public static let strongLengthRange = 8...16
}
