import CZstd

#if canImport(Glibc)
    import Glibc
#endif

/// Rebuilds a file from a basis (read with positioned reads) and a delta, checking
/// every length, count and block index before use, and the whole-file XXH3-128 and
/// size at the end. A failure throws; the caller discards the output. One patcher
/// serves a whole batch: its buffers and zstd context are made once, not per file.
final class DeltaPatcher {
    private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: DeltaLimits.maxLiteral, alignment: 64)
    private let packed = UnsafeMutableRawBufferPointer.allocate(
        byteCount: ZSTD_compressBound(DeltaLimits.maxLiteral), alignment: 64)
    private let dctx = ZSTD_createDCtx()

    deinit {
        chunk.deallocate()
        packed.deallocate()
        ZSTD_freeDCtx(dctx)
    }

    /// Where the new file goes.
    enum Output {
        /// Written front to back.
        case stream(ByteWriter)
        /// A file that already holds the basis's bytes (a reflink clone, or a copy made in the
        /// kernel): a block copied to its own offset is not written again, everything else is
        /// written at its offset, and the file is cut to the new size at the end.
        case overBasis(Int32, name: String)
    }

    /// Applies the delta read from `reader` to `basis` (named `basisName` in errors),
    /// writing the new file to `writer`.
    func apply(basis: Int32, basisName: String, reading reader: ByteReader, writingTo writer: ByteWriter)
        throws(DeltaError) -> DeltaStats
    {
        try apply(basis: basis, basisName: basisName, reading: reader, into: .stream(writer))
    }

    /// Applies the delta read from `reader` to `basis` (named `basisName` in errors);
    /// `knownEmpty`: the basis is the empty device (a file sent whole), not asked for its size.
    func apply(
        basis: Int32, basisName: String, reading reader: ByteReader, into output: Output, knownEmpty: Bool = false
    )
        throws(DeltaError) -> DeltaStats
    {
        var st = stat()
        guard knownEmpty || fstat(basis, &st) == 0 else {
            throw DeltaError("cannot stat the basis: \(String(cString: strerror(errno)))", path: basisName)
        }
        let basisSize = knownEmpty ? 0 : Int64(st.st_size)
        var magic: [UInt8] = []
        for _ in 0..<4 { magic.append(try reader.byte()) }
        guard magic == DeltaFormat.magic else { throw DeltaError("not a runner delta (bad magic)", path: reader.name) }
        let version = try reader.byte()
        guard version == DeltaFormat.version else {
            throw DeltaError("delta version \(version) is not supported", path: reader.name)
        }
        // Flags: none defined in version 2.
        guard try reader.byte() == 0 else { throw DeltaError("unknown flags in the delta header", path: reader.name) }
        let blockLength = try reader.varint()
        let basisLength = try reader.varint()
        let seed = try reader.u64()
        guard (1...UInt64(DeltaLimits.maxBlockLength)).contains(blockLength) else {
            throw DeltaError("block length \(blockLength) is out of range", path: reader.name)
        }
        guard basisLength <= UInt64(DeltaLimits.maxFileSize) else {
            throw DeltaError("basis size \(basisLength) is out of range", path: reader.name)
        }
        let L = Int(blockLength), expectedBasis = Int64(basisLength)
        let count = Int((expectedBasis + Int64(L) - 1) / Int64(L))
        guard count <= DeltaLimits.maxBlockCount else {
            throw DeltaError(
                "\(count) blocks of \(L) bytes is over the limit of \(DeltaLimits.maxBlockCount)", path: reader.name)
        }
        guard expectedBasis == basisSize else {
            throw DeltaError(
                "wrong basis: the delta was made for \(expectedBasis) bytes, the basis has \(basisSize)",
                path: basisName, kind: .basisMismatch)
        }

        let hash = StrongHash.Stream(seed: seed)
        var stats = DeltaStats()
        // Every operation so far a copy of the basis at the same offset.
        var inPlace = true
        /// `bytes` as the next part of the new file; `inPlace`: a copy of the basis at the same
        /// offset, which a file over the basis already holds.
        func emit(_ bytes: UnsafeRawBufferPointer, inPlace: Bool = false) throws(DeltaError) {
            guard stats.newSize + Int64(bytes.count) <= DeltaLimits.maxFileSize else {
                throw DeltaError("output would exceed \(DeltaLimits.maxFileSize) bytes", path: reader.name)
            }
            hash.update(bytes)
            switch output {
            case .stream(let writer): try writer.write(bytes)
            case .overBasis(let fd, let name) where !inPlace:
                try Self.write(bytes, to: fd, at: stats.newSize, name: name)
            case .overBasis: break
            }
            stats.newSize += Int64(bytes.count)
        }

        while true {
            let op = try reader.byte()
            switch op {
            case DeltaFormat.copy:
                let start = try reader.varint(), n = try reader.varint()
                guard start < UInt64(count), n >= 1, n <= UInt64(count) - start else {
                    throw DeltaError(
                        "copy of blocks \(start)+\(n) is outside the basis's \(count) blocks", path: reader.name)
                }
                var offset = Int64(start) * Int64(L)
                let stop = min(basisSize, Int64(start + n) * Int64(L))
                let copyInPlace = offset == stats.newSize
                inPlace = inPlace && copyInPlace
                stats.copiedBytes += stop - offset
                while offset < stop {
                    let want = Int(min(Int64(chunk.count), stop - offset))
                    let got = pread(basis, chunk.baseAddress, want, off_t(offset))
                    if got < 0 && errno == EINTR { continue }
                    guard got > 0 else { throw DeltaError("basis read failed at \(offset)", path: basisName) }
                    try emit(UnsafeRawBufferPointer(rebasing: chunk[0..<got]), inPlace: copyInPlace)
                    offset += Int64(got)
                }
            case DeltaFormat.literal:
                let n = try reader.varint()
                guard n >= 1, n <= UInt64(DeltaLimits.maxLiteral) else {
                    throw DeltaError("literal length \(n) is out of range", path: reader.name)
                }
                stats.literalBytes += Int64(n)
                inPlace = false
                try reader.bytes(Int(n)) { (piece: UnsafeRawBufferPointer) throws(DeltaError) in try emit(piece) }
            case DeltaFormat.zstdLiteral:
                let n = try reader.varint(), c = try reader.varint()
                guard n >= 1, n <= UInt64(DeltaLimits.maxLiteral), c >= 1, c <= UInt64(packed.count) else {
                    throw DeltaError("compressed literal \(n)/\(c) is out of range", path: reader.name)
                }
                try reader.read(into: packed.baseAddress!, Int(c))
                let out = ZSTD_decompressDCtx(dctx, chunk.baseAddress, Int(n), packed.baseAddress, Int(c))
                guard ZSTD_isError(out) == 0, out == Int(n) else {
                    throw DeltaError("corrupt compressed literal", path: reader.name)
                }
                stats.literalBytes += Int64(n)
                inPlace = false
                try emit(UnsafeRawBufferPointer(rebasing: chunk[0..<Int(n)]))
            case DeltaFormat.end:
                let size = try reader.varint()
                var digest: [UInt8] = []
                for _ in 0..<16 { digest.append(try reader.byte()) }
                guard try reader.atEnd() else {
                    throw DeltaError("trailing bytes after the end of the delta", path: reader.name)
                }
                guard size == UInt64(stats.newSize), digest == hash.finish().bytes else {
                    // The delta itself parsed: what it copied from the basis is not what the
                    // sender matched (the basis changed, or two blocks share their sums).
                    throw DeltaError(
                        "the rebuilt file fails the delta's whole-file check: the basis differs from the one "
                            + "the signature was made from, or one of its blocks has the same sums as the new data",
                        path: basisName, kind: .basisMismatch)
                }
                switch output {
                case .stream(let writer): try writer.flush()
                case .overBasis(let fd, let name):
                    guard ftruncate(fd, off_t(stats.newSize)) == 0 else {
                        throw DeltaError("cannot set the size: \(String(cString: strerror(errno)))", path: name)
                    }
                }
                stats.sameAsBasis = inPlace && stats.newSize == basisSize
                return stats
            default:
                throw DeltaError("unknown operation 0x\(String(op, radix: 16))", path: reader.name)
            }
        }
    }

    /// All of `bytes` at `offset` of `fd`.
    private static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32, at offset: Int64, name: String)
        throws(DeltaError)
    {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw DeltaError("write failed: \(String(cString: strerror(errno)))", path: name) }
            done += n
        }
    }
}
