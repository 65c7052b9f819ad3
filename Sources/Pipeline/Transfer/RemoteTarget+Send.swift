import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension RemoteTarget {
    /// A batch on its way, sent part by part: what its end needs to know of the parts.
    struct Sending {
        var outcome = SyncOutcome()
        /// Whether BATCH went: the first part's sums and signatures are asked before it.
        var begun = false
        /// Files sent as deltas or renamed at the receiver: the only ones it may ask for again whole.
        var redoable = Set<String>()
        var renamed = Set<String>()
    }

    /// Sends one part of a plan (deltas against the receiver's files where it has them).
    /// Its sums and signatures are asked first: the receiver answers them between two parts
    /// of a batch as it does before one.
    func send(
        _ plan: SyncPlan, from source: any SourceTree, over c: RemoteConnection,
        _ sending: inout Sending, cancelled: () -> Bool
    ) throws {
        // Same size at the receiver, large: block sums first; the same bytes are not sent at
        // all, a file edited in place sends its changed blocks.
        let blocks = try compareBlocks(plan, source: source, over: c)
        let unchanged = blocks.same
        // Small files and files the receiver lacks go whole: no signature round trip. A file
        // moved and edited has its delta made against the receiver's file at the old path.
        var wanted: [(path: String, basis: String, listedSize: Int64)] = []
        for op in plan.operations {
            guard case .copy(let path, let info) = op, !unchanged.contains(path), blocks.edited[path] == nil else {
                continue
            }
            if let basis = plan.basisInfo[path],
                basis.size >= SyncPlanner.blindLimit || info.size >= SyncPlanner.blindLimit
            {
                wanted.append((path, plan.bases[path] ?? path, basis.size))
            }
        }
        // One seed for the request: the same for every host that is sent this content.
        let seed = deltas.seed(for: wanted.first.flatMap { source.identity($0.path) })
        let fetched = try fetchSignatures(
            wanted.map(\.basis), listedSizes: wanted.map(\.listedSize), seed: seed, over: c)
        var signatures: [String: (signature: Signature, digest: StrongHash.Digest)] = [:]
        for w in wanted { signatures[w.path] = fetched[w.basis] }
        sending.redoable.formUnion(signatures.keys)
        sending.redoable.formUnion(blocks.edited.keys)
        try begin(&sending, cancelled: cancelled, over: c)
        c.clock.step = "sending the batch"
        for op in plan.operations {
            switch op {
            case .directory(let path, let info): try c.writer.send(.directory(path: path, info: info))
            case .attributes(let path, let info): try c.writer.send(.attributes(path: path, info: info))
            case .delete(let path): try c.writer.send(.delete(path: path))
            case .link(let path, let from, let info):
                // Renamed at the receiver: if its old file is gone meanwhile, it asks for it whole.
                try c.writer.send(.moved(path: path, from: from, info: info))
                sending.renamed.insert(path)
                sending.redoable.insert(path)
            case .symlink(let path, let destination, let info):
                try c.writer.send(.symlink(path: path, destination: destination, info: info))
            case .copy(let path, let info) where unchanged.contains(path):
                try c.writer.send(.attributes(path: path, info: info))
            case .copy(let path, let info):
                if let from = plan.bases[path] {
                    try c.writer.send(.moved(path: path, from: from, info: info))
                }
                let sent = try sendFile(
                    path, from: source, signature: signatures[path], edit: blocks.edited[path], over: c)
                if let stats = sent {
                    sending.outcome.bytes += stats.deltaBytes
                    sending.outcome.matched += stats.copiedBytes
                } else {
                    sending.outcome.retry.append(path)
                }
            }
        }
    }

    /// BATCH, unless it went already; a batch not begun yet is abandoned at a shutdown.
    private func begin(_ sending: inout Sending, cancelled: () -> Bool, over c: RemoteConnection) throws {
        guard !sending.begun else { return }
        if cancelled() { throw TransferError("batch abandoned before it was sent (shutdown)", path: "\(uri)") }
        batchID &+= 1
        try c.writer.send(.batch(id: batchID))
        sending.begun = true
    }

    /// Commits the batch sent, sends again whole what the receiver asks for, and returns
    /// what it committed. A shutdown before the commit drops the session: the receiver
    /// discards what it staged.
    func finish(_ sending: inout Sending, over c: RemoteConnection, cancelled: () -> Bool, source: any SourceTree)
        throws
        -> SyncOutcome
    {
        try begin(&sending, cancelled: cancelled, over: c)
        if cancelled() { throw TransferError("batch abandoned before commit (shutdown)", path: "\(uri)") }
        var outcome = sending.outcome
        c.clock.step = "waiting for the result"
        try c.request(.commit)
        var reply = try c.reader.receive()
        if case .redo(let paths) = reply {
            // Files whose delta rebuilt something else at the receiver go again whole.
            guard !paths.isEmpty, Set(paths).count == paths.count, paths.allSatisfy(sending.redoable.contains) else {
                throw WireError("the receiver asked again for files it had no delta for")
            }
            outcome.resent = paths
            c.clock.step = "sending files again whole"
            for path in paths {
                if let stats = try sendFile(path, from: source, signature: nil, over: c) {
                    outcome.bytes += stats.deltaBytes
                } else {
                    outcome.retry.append(path)
                }
            }
            c.clock.step = "waiting for the result"
            try c.request(.commit)
            reply = try c.reader.receive()
        }
        guard case .result(let result) = reply else { throw WireError("expected a result, got \(reply.frameType)") }
        guard result.batch == batchID else {
            throw WireError("the receiver answered batch \(result.batch) to batch \(batchID)")
        }
        outcome.written = result.written
        outcome.deleted = result.deleted
        outcome.renamed = sending.renamed.subtracting(outcome.resent).count
        outcome.actions = result.actions
        switch result.status {
        case .rolledBack: throw TransferError("the receiver rolled the batch back: \(result.message)", path: "\(uri)")
        case .rejectedByAction: outcome.rolledBack = result.message
        case .applied, .unchanged: break
        }
        return outcome
    }

    /// Sends one file as a delta against `signature`, or of the blocks `edit` names, or
    /// whole; returns the delta's figures, or nil when the file is gone or changed while it
    /// was read (a later batch sends it). A stored file's delta is made once for every host
    /// with the same basis (`DeltaCache`).
    func sendFile(
        _ path: String, from source: any SourceTree,
        signature: (signature: Signature, digest: StrongHash.Digest)?, edit: BlockComparison.Edit? = nil,
        over c: RemoteConnection
    ) throws -> DeltaStats? {
        // Gone or replaced since the plan: a later batch has it.
        guard let content = try source.open(path) else { return nil }
        let info = content.info, full = content.shown
        try c.writer.send(.file(path: path, info: info, hasBasis: signature != nil || edit != nil))
        let basis: DeltaCache.Basis =
            if let edit { .blocks(length: edit.blockLength, differing: edit.differing) } else if let signature {
                .signature(signature.digest)
            } else { .none }
        let fd = content.file.raw
        let encode = { (writer: ByteWriter, compressor: LiteralCompressor) throws(DeltaError) -> DeltaStats in
            let reader = ByteReader(fd: fd, name: full, capacity: ByteReader.capacity(for: info.size))
            if let edit {
                return try DeltaEncoder.inPlace(
                    reading: reader, basisSize: info.size, blockLength: edit.blockLength, differing: edit.differing,
                    writer: writer, compressor: compressor)
            }
            let encoder = DeltaEncoder(
                signature: signature?.signature ?? .none, writer: writer, compressor: compressor)
            try encoder.encode(reading: reader)
            return encoder.stats
        }
        let writer = c.writer
        var failure: WireError?
        let capacity = min(c.writer.limits.maxFrame - 16, ByteReader.capacity(for: info.size))
        let frames = ByteWriter(name: "delta of \(path)", capacity: capacity) {
            (bytes) throws(DeltaError) in
            do throws(WireError) { try writer.send(.data(Array(bytes))) } catch {
                failure = error
                throw DeltaError(error.message)
            }
        }
        var stats: DeltaStats
        do throws(DeltaError) {
            if let made = try deltas.delta(of: content, against: basis, make: encode) {
                // Made once for every host with this basis: its bytes, a frame's worth at a time.
                for start in stride(from: 0, to: made.bytes.count, by: capacity) {
                    try frames.writeThrough(made.bytes[start..<min(made.bytes.count, start + capacity)])
                }
                stats = made.stats
            } else {
                stats = try deltas.withCompressor { (compressor) throws(DeltaError) in try encode(frames, compressor) }
            }
            try frames.flush()
        } catch {
            if let failure { throw failure }
            throw TransferError(error.message, path: full)
        }
        // A file that changed while it was read is discarded by the receiver and sent again later.
        let keep = content.heldStill() && stats.newSize == info.size
        try c.writer.send(.fileEnd(keep: keep))
        return keep ? stats : nil
    }
}
