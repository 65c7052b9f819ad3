/// The delta format (little-endian, versioned):
///
///     "RNDL" version:u8 flags:u8 blockLength:varint basisSize:varint seed:u64
///     op*  where op is one of
///       0x01 COPY    start:varint count:varint         blocks start ..< start+count of the basis
///       0x02 LITERAL length:varint bytes
///       0x03 ZSTD    length:varint compressed:varint bytes   (a zstd frame of `length` bytes)
///       0x00 END     size:varint xxh3-128:16                  of the file the delta rebuilds
///
/// The whole-file sum is keyed with `seed`, fresh for each delta, so that content
/// written to collide with a basis cannot also pass this check. Literal lengths are at
/// most `DeltaLimits.maxLiteral`. An identical file costs about 40 bytes.
enum DeltaFormat {
    static let magic: [UInt8] = Array("RNDL".utf8)
    static let version: UInt8 = 2
    static let end: UInt8 = 0
    static let copy: UInt8 = 1
    static let literal: UInt8 = 2
    static let zstdLiteral: UInt8 = 3
}

/// What one delta contains, for reports and benchmarks.
public struct DeltaStats: Sendable, Equatable {
    /// Bytes of the new file taken from the basis.
    public var copiedBytes: Int64 = 0
    /// Bytes of the new file sent as literal data (before compression).
    public var literalBytes: Int64 = 0
    /// Literal bytes as stored in the delta (after compression where it helped).
    public var storedLiteralBytes: Int64 = 0
    /// Size of the delta itself.
    public var deltaBytes: Int64 = 0
    /// Size of the new file.
    public var newSize: Int64 = 0
    /// The new file is the basis byte for byte: the delta copied every block in place and
    /// nothing else (the patcher sets it; the whole-file check has passed).
    public var sameAsBasis = false
}
