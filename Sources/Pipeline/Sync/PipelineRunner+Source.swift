import Logging
import RunnerSystem

extension PipelineRunner {
    /// Looks at where the source leads, when due (every second, at once when its parent
    /// changed or the watched directory went away). After a flip — a release link pointed
    /// elsewhere, the directory swapped for another — the new directory is watched instead
    /// (edits in the old one no longer count) and one revision is cut for the whole
    /// difference; it rolls out as any other. A source that is missing cuts nothing.
    func lookAtSource(now: Double, control: RunControl) {
        guard now >= source.checkAt else { return }
        let wasMissing = source.missing
        let flipped = source.look(now: now)
        if source.missing && !wasMissing {
            logger.error("the source \(config.source) is missing: nothing is cut until a directory is there again")
        } else if wasMissing && !source.missing {
            logger.notice("the source \(config.source) is there again: \(sourceRoot)")
            cutAgainAt = now
        }
        guard let flipped else { return }
        logger.notice(
            "the source \(config.source) now leads to \(flipped): watching it, and one revision for the whole difference"
        )
        // What the old directory's watch saw is covered by the whole comparison.
        _ = coalescer.cutNow()
        openWrites.forgetAll()
        do { try startWatching(now: now) } catch {
            logger.error("cannot watch \(flipped): \(error)")
            watcher = nil
        }
        if dryRun {
            _ = describe(ChangeBatch(paths: [], fullRescan: true), label: "source replaced")
        } else {
            cut(paths: nil, note: "source replaced", firstEvent: now, control: control)
        }
    }

    /// The source's parent changed (a wakeup): looked at now.
    func sourceParentWoke(now: Double) {
        if source.parentChanged() { source.checkAt = now }
    }
}
