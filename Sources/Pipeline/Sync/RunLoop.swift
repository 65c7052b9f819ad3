#if canImport(Glibc)
import Glibc
#endif
import Logging

/// Drives pipelines on one thread: polls their inotify descriptors and the stop
/// signal, and cuts batches when their deadlines come.
public struct RunLoop {
    let pipelines: [PipelineRunner]
    let stop: StopSignal
    let logger: Logger

    /// A loop over pipelines.
    public init(pipelines: [PipelineRunner], stop: StopSignal, logger: Logger) {
        self.pipelines = pipelines
        self.stop = stop
        self.logger = logger
    }

    /// `--once`: one full sync of every pipeline. Returns whether all targets succeeded.
    public func runOnce() -> Bool {
        var ok = true
        for p in pipelines where !stop.isRequested {
            ok = p.initialSync(stop: stop) && ok
        }
        return ok && !stop.isRequested
    }

    /// The service: watch, initial sync, then batches until a stop is requested.
    public func run() throws(WatchError) {
        for p in pipelines { try p.startWatching() }
        for p in pipelines where !stop.isRequested { p.initialSync(stop: stop) }
        logger.info("ready", metadata: ["pipelines": "\(pipelines.count)"])
        while !stop.isRequested {
            var fds = [pollfd(fd: stop.readDescriptor, events: Int16(POLLIN), revents: 0)]
            for p in pipelines { if let fd = p.fileDescriptor { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) } }
            let now = Clock.now
            let next = pipelines.compactMap(\.deadline).min()
            let timeout: Int32 = next.map { Int32(max(0, min(60_000, ceil(($0 - now) * 1000)))) } ?? 60_000
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 && errno != EINTR {
                logger.error("poll failed: \(String(cString: strerror(errno)))")
                return
            }
            if stop.isRequested { break }
            let after = Clock.now
            for p in pipelines {
                if let fd = p.fileDescriptor, fds.contains(where: { $0.fd == fd && $0.revents != 0 }) {
                    p.readEvents(now: after)
                }
            }
            for p in pipelines {
                p.flushIfDue(now: Clock.now, stop: stop)
            }
        }
        logger.info("stopping")
    }
}
