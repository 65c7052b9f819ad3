import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension ReceiverSession {
    /// The staged file for the next entry of a batch.
    static func createFile(for path: RelativePath, mode: UInt32, in stager: BatchStager) throws(WireError)
        -> FileDescriptor
    {
        do { return try stager.createFile(for: path, mode: mode) } catch {
            throw WireError("cannot stage \(path): \(error.message)")
        }
    }

    /// What became of a file sent in a batch.
    enum Received {
        /// Rebuilt into staging, this many bytes.
        case staged(Int64)
        /// The same bytes as the module's copy: not rewritten, only its mode, owner and times
        /// set (when they differ); `modeChanged` when the mode or the owner does.
        case identical(modeChanged: Bool, timesChanged: Bool)
        /// Moved in the source without a change: the module's file at `from` is renamed.
        case renamed(from: RelativePath)
        /// The sender discarded it (the source changed while it was read).
        case discarded
        /// Its delta parsed but rebuilt another file than the sender's: the basis here is
        /// not the one the signature was made from, or a block shares its sums.
        case basisMismatch(String)
    }

    /// Rebuilds a file from DATA frames (a delta against the module's current file, or the
    /// file at `basis` for a moved file, or against nothing) into staging.
    func receiveFile(
        _ path: RelativePath, info: FileInfo, hasBasis: Bool, basis basisPath: RelativePath?, into stager: BatchStager
    ) throws(WireError) -> Received {
        // No basis: the delta is the whole file, patched against an empty one.
        let empty = try emptyBasis()
        let basis = (hasBasis ? openBasis(basisPath ?? path)?.release() : nil) ?? empty
        defer { if basis != empty { close(basis) } }
        let out = try Self.createFile(for: path, mode: info.mode, in: stager)
        let output = Self.output(
            over: basis, hasBasis: hasBasis, into: out.raw, size: info.size,
            orCopy: summedFiles.contains(path.description))
        let reader = self.reader
        var keep: Bool?
        var failure: WireError?
        var pending: [UInt8] = []
        var pendingOffset = 0
        /// The next DATA payload; false at FILE_END.
        func nextData() throws(WireError) -> Bool {
            switch try reader.receive() {
            case .data(let bytes):
                pending = bytes
                pendingOffset = 0
                return true
            case .fileEnd(let k):
                keep = k
                return false
            case let other:
                throw WireError("unexpected \(other.frameType) frame inside a file")
            }
        }
        let frames = ByteReader(name: "delta of \(path)", capacity: 1 << 16) { (into) throws(DeltaError) in
            do throws(WireError) {
                while pendingOffset == pending.count {
                    if keep != nil { return 0 }
                    if try !nextData() { return 0 }
                }
                let n = min(into.count, pending.count - pendingOffset)
                pending.withUnsafeBytes {
                    into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[pendingOffset..<(pendingOffset + n)]))
                }
                pendingOffset += n
                return n
            } catch {
                failure = error
                throw DeltaError(error.message)
            }
        }
        var result: Received
        do throws(DeltaError) {
            let stats = try patcher.apply(
                basis: basis, basisName: "\(module.path)/\(path)", reading: frames, into: output,
                knownEmpty: basis == empty)
            result = .staged(stats.newSize)
            // Sent whole (a small file) or as a delta of nothing but copies in place: the same
            // bytes as the module's copy are not written again.
            func identical(_ current: Int32, proven: Bool) -> Received? {
                guard proven || Self.sameBytes(out.raw, current, size: stats.newSize) else {
                    return nil
                }
                var st = stat()
                fstat(current, &st)
                let now = FileInfo(st)
                return .identical(
                    modeChanged: now.mode != info.mode || now.ownerDiffers(from: info),
                    timesChanged: now.mtimeSeconds != info.mtimeSeconds || now.mtimeNanoseconds != info.mtimeNanoseconds
                )
            }
            if let basisPath {
                // Moved, its bytes unchanged (its times too recent for the sender to be sure):
                // the old file is renamed, as for a plain move.
                var same = hasBasis && stats.sameAsBasis
                if !hasBasis, let old = openBasis(basisPath) {
                    same = Self.sameBytes(out.raw, old.raw, size: stats.newSize)
                }
                if same { result = .renamed(from: basisPath) }
            } else if hasBasis {
                result = identical(basis, proven: stats.sameAsBasis) ?? result
            } else if wasListed(path), let current = openBasis(path) {
                result = identical(current.raw, proven: false) ?? result
            }
        } catch {
            if let failure { throw failure }
            guard error.kind == .basisMismatch, hasBasis else { throw WireError("\(path): \(error.message)") }
            result = .basisMismatch(error.message)
        }
        // Read up to FILE_END: a delta that ended (or failed) before it leaves frames behind.
        while keep == nil { _ = try nextData() }
        switch (keep, result) {
        case (true, .staged):
            do throws(TransferError) { try stager.placeFile(path, out, info: info) } catch {
                throw WireError("cannot stage \(path): \(error.message)")
            }
        case (true, .identical(let modeChanged, let timesChanged)):
            stager.discardFile(path)
            if modeChanged || timesChanged { stager.attributes(path, info: info) }
        case (true, .renamed(let from)):
            stager.discardFile(path)
            do throws(TransferError) { try stager.placeLink(path, from: from, info: info) } catch {
                throw WireError("cannot rename \(from) to \(path): \(error.message)")
            }
        default:
            stager.discardFile(path)
            return keep == true ? result : .discarded
        }
        return result
    }

    /// Where a file patched against `basis` is written: over a clone of the basis for a large
    /// one (only the changed ranges are written then), else front to back. `orCopy`: where
    /// there are no reflinks, a copy made by the kernel (worth it for a file edited in place,
    /// wasted on one whose bytes moved, which the delta writes anew).
    static func output(over basis: Int32, hasBasis: Bool, into out: Int32, size: Int64, orCopy: Bool)
        -> DeltaPatcher.Output
    {
        var st = stat()
        guard hasBasis, fstat(basis, &st) == 0, st.st_size >= 1 << 20 else {
            return .stream(ByteWriter(fd: out, name: "staging", capacity: ByteReader.capacity(for: size)))
        }
        if FileSystem.clone(basis, into: out, size: Int64(st.st_size), orCopy: orCopy) {
            return .overBasis(out, name: "staging")
        }
        ftruncate(out, 0)
        return .stream(ByteWriter(fd: out, name: "staging", capacity: ByteReader.capacity(for: size)))
    }

    /// Whether the staged file and the module's, both of `size` bytes, hold the same bytes
    /// (read back: only up to 1 MiB; larger files come as deltas, which say so themselves).
    static func sameBytes(_ a: Int32, _ b: Int32, size: Int64) -> Bool {
        var st = stat()
        guard size <= 1 << 20, fstat(b, &st) == 0, Int64(st.st_size) == size else { return false }
        var left = [UInt8](repeating: 0, count: Int(size)), right = left
        guard size == 0 || (pread(a, &left, Int(size), 0) == Int(size) && pread(b, &right, Int(size), 0) == Int(size))
        else { return false }
        return left == right
    }
}
