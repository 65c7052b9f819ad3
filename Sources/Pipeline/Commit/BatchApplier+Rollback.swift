import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension BatchApplier {
    /// Rolls back the batch whose journal is in staging, if there is one (a crash mid-commit).
    func rollBackInterrupted() throws(TransferError) {
        if let journal = try BatchJournal.read(in: staging) { try rollback(journal) }
    }

    /// Undoes a journaled batch, newest entry first. Every step looks at the disk,
    /// so it is right wherever the commit stopped, and safe to run twice.
    func rollback(_ journal: BatchJournal) throws(TransferError) {
        func inStaging(_ name: String) -> Bool {
            var st = stat()
            return fstatat(staging.rootFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        }
        for entry in journal.entries.reversed() {
            switch entry {
            case let .replace(path, index):
                // Placed means the new entry left staging; old-<i> is what was there
                // (a hard link to the old file, or the directory that was moved out).
                // Gone already (an earlier rollback got this far, or the tree was emptied by
                // hand since): nothing to remove, and the old entry's place is made again.
                if !inStaging("new-\(index)") { try tree.removeTree(path, ifPresent: true) }
                if inStaging("old-\(index)"), tree.info(path) == nil {
                    try TreeDirectory.rename(
                        staging, try RelativePath(validating: "old-\(index)"), to: tree, path, createParents: true)
                }
            case let .remove(path, index):
                if inStaging("old-\(index)") {
                    try TreeDirectory.rename(
                        staging, try RelativePath(validating: "old-\(index)"), to: tree, path, createParents: true)
                }
            case let .directory(path, index, created, old):
                if created {
                    if tree.info(path)?.kind == .directory { try tree.removeTree(path) }
                    if inStaging("old-\(index)") {
                        try TreeDirectory.rename(staging, try RelativePath(validating: "old-\(index)"), to: tree, path)
                    }
                } else {
                    try? setAttributes(path, old)
                }
            case let .attributes(path, old):
                try? setAttributes(path, old)
            }
        }
        unlinkat(staging.rootFD, BatchJournal.fileName, 0)
    }
}
