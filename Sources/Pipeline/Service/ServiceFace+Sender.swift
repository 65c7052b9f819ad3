extension ServiceFace {
    /// Shows `runner run`'s loop: its pipelines' status, their metrics, and each host's
    /// time behind. After a reload the fresh pipelines are attached again.
    public func attach(_ loop: RunLoop) {
        let version = self.version, behindLimit = settings.behindLimit
        snapshot = { [unowned loop] in
            ServiceStatus.sender(pipelines: loop.pipelines, version: version, behindLimit: behindLimit)
        }
        tick = { [unowned loop, metrics] now in
            for p in loop.pipelines {
                if p.observer == nil { p.observer = metrics }
                for (h, host) in p.fleet.hosts.enumerated() {
                    if p.isCurrent(h) {
                        host.behindSince = nil
                    } else if host.behindSince == nil {
                        host.behindSince = now
                    }
                }
            }
        }
        for p in loop.pipelines { p.observer = metrics }
        loop.companion = self
    }
}
