#if canImport(Glibc)
    import Glibc
#endif

/// What a connected descriptor says of its peer without reading from it.
public enum SocketPeer {
    /// Whether the peer closed its end (or the connection failed): a session that idled out
    /// at the far end is not worth a write that would fail.
    public static func hasHungUp(_ fd: Int32) -> Bool {
        // POLLRDHUP (Linux; the Glibc module leaves it out without _GNU_SOURCE).
        let peerClosed: Int16 = 0x2000
        var p = pollfd(fd: fd, events: peerClosed, revents: 0)
        return poll(&p, 1, 0) == 1 && p.revents & (peerClosed | Int16(POLLHUP | POLLERR | POLLNVAL)) != 0
    }
}
