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
        // What the sender asked before this batch is this batch's: the next one asks again,
        // or is planned without a listing.
        defer {
            listedFiles = nil
            listedDirectories = nil
            summedFiles.removeAll(keepingCapacity: true)
        }
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
                        if let now = tree.info(path), now.kind == info.kind, now.mode == info.mode,
                            !now.ownerDiffers(from: info)
                        {
                            timesOnly += 1
                        }
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
            case .sums, .signatures, .list:
                // Asked between the parts of a batch planned as it is sent (its walk's next part).
                _ = try answerQuery(message)
                try writer.flush()
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
                    try writer.send(.result(BatchResult(batch: id, status: .rejectedByAction, message: refusal)))
                    return
                }
                try commit(id: id, stager, bytes: bytes, timesOnly: timesOnly)
                // The staging directory goes once the result is on its way, not before: the
                // sender waits for the result, not for the cleanup.
                withExtendedLifetime(stager) {}
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
        // A newer leader may have said hello since this session's: its token fences this one
        // out. Checked with the tree locked (the stager holds it), so no batch of a deposed
        // leader lands after one of the new leader's.
        try fence.check(token)
        let counts: BatchApplier.Counts
        let hold = !actions.isEmpty
        do {
            counts = try stager.commit(holding: hold)
        } catch {
            logger.error("batch \(id) rolled back: \(error)", metadata: ["module": "\(module.name)"])
            report.batch("failed")
            try writer.send(.result(BatchResult(batch: id, status: .rolledBack, message: error.description)))
            return
        }
        let changed = counts.written + counts.deleted + counts.updated > 0
        let worthActions = module.onSyncAlways || counts.written + counts.deleted + counts.updated > timesOnly
        var results: [ActionResult] = []
        if hold && worthActions {
            let undo = BatchUndo { () throws(TransferError) in try stager.applier.rollBackHeld() }
            let paths = stager.changedPaths
            results = ModuleActions.run(
                actions, context: ActionContext(module: module, paths: paths, logger: logger, undo: undo))
            if undo.done {
                let why =
                    results.first { $0.outcome != .ok && $0.outcome != .skipped }.map { "\($0.name): \($0.summary)" }
                    ?? "an action failed"
                logger.error("batch \(id) rolled back: \(why)", metadata: ["module": "\(module.name)"])
                report.batch("rolled_back", actions: results)
                try writer.send(
                    .result(BatchResult(batch: id, status: .rejectedByAction, message: why, actions: results)))
                return
            }
        }
        stager.applier.release()
        // A batch that changed nothing (a whole comparison that found the module as it should
        // be) says so: the log shows what was applied, once.
        logger.info(
            "batch \(id) \(changed ? "applied" : "unchanged")",
            metadata: [
                "module": "\(module.name)", "written": "\(counts.written)",
                "deleted": "\(counts.deleted)", "bytes": "\(bytes)",
            ])
        report.batch(
            changed ? "applied" : "unchanged", written: counts.written, deleted: counts.deleted, actions: results)
        try writer.send(
            .result(
                BatchResult(
                    batch: id, status: changed ? .applied : .unchanged, written: counts.written,
                    deleted: counts.deleted,
                    actions: results)))
    }
}
