import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The highest leader token a module has seen, kept beside it as `.<name>.runner-fence`
/// (where its batches are staged): each session's hello raises it, and a session whose token
/// is lower is refused, at its hello and again before each commit. A leader deposed while it
/// still runs (frozen past its lease, cut off from etcd) thus cannot overwrite what the new
/// leader applied. The token is the leader key's create_revision in etcd, which only grows;
/// a sender without coordination sends 0, and is refused once a leader has pushed here.
struct FenceFile {
    let path: String
    let module: String

    init(module: ReceiverModule) {
        path = StagingArea.beside(module.path, "runner-fence")
        self.module = module.name
    }

    /// Admits a session of `token`: raises the fence to it (synced to disk) when higher;
    /// refuses it when lower than what the module has seen.
    func admit(_ token: UInt64) throws(WireError) { try compare(token, raise: true) }

    /// Refuses a commit of a session whose token a newer leader's has passed since its hello.
    func check(_ token: UInt64) throws(WireError) { try compare(token, raise: false) }

    private func compare(_ token: UInt64, raise: Bool) throws(WireError) {
        // No fence file and nothing to raise: nothing was ever fenced here.
        if token == 0, access(path, F_OK) != 0 { return }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw WireError("cannot open the fence \(path): \(SystemError.text())") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw WireError("cannot lock the fence \(path): \(SystemError.text())") }
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &bytes, bytes.count, 0)
        let seen = n > 0 ? UInt64(String(decoding: bytes[..<n].filter { $0 != 10 }, as: UTF8.self)) ?? 0 : 0
        if token < seen {
            throw WireError(
                "fenced: module '\(module)' has seen leader token \(seen), and this sender's is \(token) (a newer leader took over)"
            )
        }
        guard raise, token > seen else { return }
        let text = Array("\(token)\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.count, 0) == text.count, fsync(fd) == 0 else {
            throw WireError("cannot write the fence \(path): \(SystemError.text())")
        }
    }
}
