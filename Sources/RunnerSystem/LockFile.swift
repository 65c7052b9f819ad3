import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on a file (`flock`), held while this value lives, with the holder's PID
/// written in it so that a second process can say who holds it. A process that already holds
/// the lock gets the same lock again (a reload builds a pipeline anew while the old one still
/// runs): `flock` would otherwise refuse the process its own lock through a second descriptor.
public final class LockFile: Sendable {
    /// The lock's path.
    public let path: String
    private let descriptor: Int32

    /// The locks this process holds, by path.
    private static let held = Mutex<[String: Weak]>([:])

    private struct Weak: @unchecked Sendable {
        // @unchecked: `LockFile` is Sendable; the box only keeps a weak reference, read under `held`'s lock.
        weak var lock: LockFile?
    }

    /// Another process holds the lock.
    public struct Busy: Error, Sendable, CustomStringConvertible {
        /// The lock's path.
        public let path: String
        /// The holder, as it wrote itself in the file (nil when unreadable).
        public let holder: Int32?

        public var description: String { "\(holder.map { "PID \($0)" } ?? "another process") holds \(path)" }
    }

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Takes the lock at `path` (created mode 0600), or the one this process holds there.
    public static func acquire(_ path: String) throws -> LockFile {
        try held.withLock { table in
            if let mine = table[path]?.lock { return mine }
            let fd = Glibc.open(path.cPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw SystemError("open", path: path) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let busy = errno == EWOULDBLOCK
                let failure = SystemError("lock", path: path)
                var text = [UInt8](repeating: 0, count: 32)
                let n = pread(fd, &text, 31, 0)
                Glibc.close(fd)
                guard busy else { throw failure }
                let pid =
                    n > 0 ? Int32(String(decoding: text[..<n], as: UTF8.self).split(separator: "\n").first ?? "") : nil
                throw Busy(path: path, holder: pid)
            }
            let pid = Array("\(getpid())\n".utf8)
            _ = ftruncate(fd, 0)
            _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            let lock = LockFile(path: path, descriptor: fd)
            table[path] = Weak(lock: lock)
            return lock
        }
    }

    deinit {
        // Closing the descriptor releases the lock; the file stays (another process may be opening it).
        Glibc.close(descriptor)
    }
}
