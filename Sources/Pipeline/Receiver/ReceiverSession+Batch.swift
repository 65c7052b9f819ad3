import Logging
import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension ReceiverSession {
    /// Receives one batch: entries are staged outside the module until COMMIT, then
    /// committed through the journal; the result goes back to the sender. A file whose
    /// delta fails its whole-file check is asked for again, whole, before the commit.
    func batch(_ id: UInt64) throws(WireError) {
        guard !module.readOnly else { throw WireError("module '\(module.name)' is read-only") }
        let stager: BatchStager
        do throws(TransferError) { stager = try staging.begin() } catch { throw WireError(error.description) }
        var bytes: Int64 = 0
        // Files whose delta failed its check, and once asked for, the request.
        var redo = Set<RelativePath>()
        var redoing = false
        // A link the module's `symlinks` refuses: the batch is read to its end, then refused whole.
        var refusal: String?
        // Files moved in the source: renamed from their old path at the commit, unless a FILE
        // for them comes (then their old file is its delta's basis).
        var moved: [RelativePath: (from: RelativePath, info: FileInfo)] = [:]
        // Changes that only set the times of an entry that stays as it is (a `touch`, a file
        // rewritten with the same bytes): committed, but no reason to run the actions.
        var timesOnly = 0
        while true {
            let message = try reader.receive()
            switch message {
            case let .directory(raw, info), let .attributes(raw, info):
                if let path = try Self.path(raw) {
                    if case .directory = message {
                        stager.directory(path, info: info)
                    } else {
                        // The applier counts each of these; one that keeps the mode only sets times.
                        if let now = tree.info(path), now.kind == info.kind, now.mode == info.mode { timesOnly += 1 }
                        stager.attributes(path, info: info)
                    }
                } else {
                    stager.rootInfo = info
                }
            case let .moved(raw, rawFrom, info):
                guard let path = try Self.path(raw), let from = try Self.path(rawFrom), path != from else {
                    throw WireError("a move needs two different paths")
                }
                moved[path] = (from, info)
            case .delete(let raw):
                guard let path = try Self.path(raw) else { throw WireError("the module root cannot be deleted") }
                stager.remove(path)
            case let .symlink(raw, destination, info):
                guard let path = try Self.path(raw) else { throw WireError("empty path") }
                guard !destination.isEmpty, !destination.utf8.contains(0) else {
                    throw WireError("bad symlink destination for \(path)")
                }
                if let why = symlinkRefusal(path, destination) {
                    refusal = refusal ?? why
                    continue
                }
                do throws(TransferError) { try stager.placeSymlink(path, destination: destination, info: info) } catch {
                    throw WireError("cannot stage symlink \(path): \(error.message)")
                }
            case let .file(raw, info, hasBasis):
                guard let path = try Self.path(raw) else { throw WireError("empty path") }
                if redoing {
                    guard !hasBasis, redo.remove(path) != nil else {
                        throw WireError("\(path) was not asked for again whole")
                    }
                }
                let basis = moved.removeValue(forKey: path)?.from
                switch try receiveFile(path, info: info, hasBasis: hasBasis, basis: basis, into: stager) {
                case .staged(let written): bytes += written
                case .identical(let modeChanged, let timesChanged): if timesChanged && !modeChanged { timesOnly += 1 }
                case .renamed: break
                case .discarded: break
                case .basisMismatch(let why):
                    logger.warning(
                        "batch \(id): \(path): \(why); asking for the whole file",
                        metadata: ["module": "\(module.name)"])
                    redo.insert(path)
                }
            case .commit:
                for (path, move) in moved.sorted(by: { $0.key.description < $1.key.description }) {
                    do throws(TransferError) { try stager.placeLink(path, from: move.from, info: move.info) } catch {
                        // Its old file is not there any more: the sender sends it whole.
                        logger.notice(
                            "batch \(id): \(path): cannot rename \(move.from) (\(error.message)); asking for the whole file",
                            metadata: ["module": "\(module.name)"])
                        redo.insert(path)
                    }
                }
                moved.removeAll()
                if !redoing, !redo.isEmpty {
                    // A delta that met another basis than its signature's: the sender sends
                    // those files again whole, which cannot fail that way, in this same batch.
                    redoing = true
                    try writer.send(.redo(paths: redo.map(\.description).sorted()))
                    try writer.flush()
                    continue
                }
                if let refusal {
                    logger.error("batch \(id) refused: \(refusal)", metadata: ["module": "\(module.name)"])
                    report.batch("refused")
                    // Refused content, as an action would refuse it: not retried until the source changes.
                    try writer.send(.result(BatchResult(status: .rejectedByAction, message: refusal)))
                    return
                }
                try commit(id: id, stager, bytes: bytes, timesOnly: timesOnly)
                return
            default:
                throw WireError("unexpected \(message.frameType) frame in a batch")
            }
        }
    }

    /// Why the module's `symlinks` policy refuses a link, or nil.
    private func symlinkRefusal(_ path: RelativePath, _ destination: String) -> String? {
        switch module.symlinks {
        case .keep: return nil
        case .refuse:
            return
                "symlink \(path) -> \(destination): module '\(module.name)' takes no symlinks (symlinks = \"refuse\")"
        case .safe:
            guard !path.linkStaysInside(destination, root: module.path) else { return nil }
            return
                "symlink \(path) -> \(destination) leaves module '\(module.name)' (symlinks = \"safe\"; \"keep\" takes it as it is)"
        }
    }

    /// Commits a staged batch, runs the module's actions when it changed something
    /// (holding the commit point until they pass), and sends the result.
    private func commit(id: UInt64, _ stager: BatchStager, bytes: Int64, timesOnly: Int) throws(WireError) {
        let counts: BatchApplier.Counts
        let hold = !actions.isEmpty
        do {
            counts = try stager.commit(holding: hold)
        } catch {
            logger.error("batch \(id) rolled back: \(error)", metadata: ["module": "\(module.name)"])
            report.batch("failed")
            try writer.send(.result(BatchResult(status: .rolledBack, message: error.description)))
            return
        }
        let changed = counts.written + counts.deleted + counts.updated > 0
        let worthActions = module.onSyncAlways || counts.written + counts.deleted + counts.updated > timesOnly
        var results: [ActionResult] = []
        if hold && worthActions {
            let undo = BatchUndo { () throws(TransferError) in try stager.applier.rollBackHeld() }
            let paths = stager.changes.compactMap(\.renamed).map(\.description)
            results = ModuleActions.run(
                actions, context: ActionContext(module: module, paths: paths, logger: logger, undo: undo))
            if undo.done {
                let why =
                    results.first { $0.outcome != .ok && $0.outcome != .skipped }.map { "\($0.name): \($0.summary)" }
                    ?? "an action failed"
                logger.error("batch \(id) rolled back: \(why)", metadata: ["module": "\(module.name)"])
                report.batch("rolled_back", actions: results)
                try writer.send(.result(BatchResult(status: .rejectedByAction, message: why, actions: results)))
                return
            }
        }
        stager.applier.release()
        logger.info(
            "batch \(id) applied",
            metadata: [
                "module": "\(module.name)", "written": "\(counts.written)",
                "deleted": "\(counts.deleted)", "bytes": "\(bytes)",
            ])
        report.batch(
            changed ? "applied" : "unchanged", written: counts.written, deleted: counts.deleted, actions: results)
        try writer.send(
            .result(
                BatchResult(
                    status: changed ? .applied : .unchanged, written: counts.written, deleted: counts.deleted,
                    actions: results)))
    }

    private static func createFile(for path: RelativePath, in stager: BatchStager) throws(WireError) -> FileDescriptor {
        do { return try stager.createFile() } catch { throw WireError("cannot stage \(path): \(error.message)") }
    }

    /// What became of a file sent in a batch.
    private enum Received {
        /// Rebuilt into staging, this many bytes.
        case staged(Int64)
        /// The same bytes as the module's copy: not rewritten, only its mode and times set
        /// (when they differ); `modeChanged` when the mode does.
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
    private func receiveFile(
        _ path: RelativePath, info: FileInfo, hasBasis: Bool, basis basisPath: RelativePath?, into stager: BatchStager
    ) throws(WireError) -> Received {
        // No basis: the delta is the whole file, patched against an empty one.
        let empty = try emptyBasis()
        let basis = (hasBasis ? openBasis(basisPath ?? path)?.release() : nil) ?? empty
        defer { if basis != empty { close(basis) } }
        let out = try Self.createFile(for: path, in: stager)
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
                basis: basis, basisName: "\(module.path)/\(path)", reading: frames,
                writingTo: ByteWriter(fd: out.raw, name: "staging"))
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
                    modeChanged: now.mode != info.mode,
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
            } else if listedFiles.contains(path.description), let current = openBasis(path) {
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
            stager.placeFile(path, out, info: info)
        case (true, .identical(let modeChanged, let timesChanged)):
            stager.discardFile()
            if modeChanged || timesChanged { stager.attributes(path, info: info) }
        case (true, .renamed(let from)):
            stager.discardFile()
            do throws(TransferError) { try stager.placeLink(path, from: from, info: info) } catch {
                throw WireError("cannot rename \(from) to \(path): \(error.message)")
            }
        default:
            stager.discardFile()
            return keep == true ? result : .discarded
        }
        return result
    }

    /// Whether the staged file and the module's, both of `size` bytes, hold the same bytes
    /// (read back: only up to 1 MiB; larger files come as deltas, which say so themselves).
    private static func sameBytes(_ a: Int32, _ b: Int32, size: Int64) -> Bool {
        var st = stat()
        guard size <= 1 << 20, fstat(b, &st) == 0, Int64(st.st_size) == size else { return false }
        var left = [UInt8](repeating: 0, count: Int(size)), right = left
        guard size == 0 || (pread(a, &left, Int(size), 0) == Int(size) && pread(b, &right, Int(size), 0) == Int(size))
        else { return false }
        return left == right
    }
}
