import LuaKit
import Pipeline
import RunnerSystem

extension ConfigLoader {
    /// `settings { ... }`: each key checked, with its line.
    func applySettings(_ r: LuaTableReader) throws {
        try r.checkKeys(ConfigSchema.settings)
        if let level = try r.string("log") {
            guard Settings.logLevels.contains(level) else {
                throw r.error(
                    "log", "unknown log level '\(level)'",
                    hint: ConfigError.suggestion(for: level, among: Settings.logLevels)
                        ?? "one of \(Settings.logLevels.joined(separator: ", "))")
            }
            settings.logLevel = level
        }
        if let listen = try r.string("listen") {
            // Port 0: the kernel picks one, and the daemon logs it.
            guard let colon = listen.lastIndex(of: ":"), colon != listen.startIndex,
                let port = Int(listen[listen.index(after: colon)...]),
                (0...65535).contains(port)
            else {
                throw r.error("listen", "'listen' must be host:port, got '\(listen)'")
            }
            settings.listen = listen
            settings.listenGiven = true
        }
        if let n = try r.seconds("max_connections") {
            guard n >= 1, n == n.rounded() else {
                throw r.error("max_connections", "'max_connections' must be a whole number >= 1")
            }
            settings.maxConnections = Int(n)
        }
        if let text = try r.string("max_startups") {
            guard let limits = StartupLimits(parsing: text) else {
                throw r.error(
                    "max_startups",
                    "'max_startups' must be start:rate:full (as \"10:30:100\") or a number, got '\(text)'")
            }
            (settings.startups.start, settings.startups.rate, settings.startups.full) = (
                limits.start, limits.rate, limits.full
            )
        }
        if let n = try r.seconds("per_source_startups") {
            guard n >= 1, n == n.rounded() else {
                throw r.error("per_source_startups", "'per_source_startups' must be a whole number >= 1")
            }
            settings.startups.perAddress = Int(n)
        }
        if let t = try r.seconds("handshake_timeout") { settings.handshakeTimeout = max(0.1, t) }
        if let t = try r.seconds("idle_timeout") { settings.idleTimeout = max(0.1, t) }
        if let dir = try r.string("state_dir") { settings.stateDirectory = resolvePath(dir) }
        if let address = try r.string("status") {
            // A bare port is 127.0.0.1's: the status is for this host unless said otherwise.
            let full = address.contains(":") ? address : "127.0.0.1:\(address)"
            guard let colon = full.lastIndex(of: ":"), colon != full.startIndex,
                let port = Int(full[full.index(after: colon)...]), (0...65535).contains(port)
            else {
                throw r.error("status", "'status' must be host:port (or a port, for 127.0.0.1), got '\(address)'")
            }
            settings.status = full
        }
        if let file = try r.string("metrics_file") { settings.metricsFile = resolvePath(file) }
        if let file = try r.string("dial_secrets") { settings.dialSecrets = resolvePath(file) }
        if let t = try r.seconds("behind_limit") { settings.behindLimit = max(0, t) }
        if let t = try r.seconds("stop_timeout") { settings.stopTimeout = max(0, t) }
        settings.coordination = try coordination(r) ?? settings.coordination
    }

    /// `coordination = { etcd = { "http://host:2379", … }, name = "sender-a", lease = 10 }`.
    func coordination(_ r: LuaTableReader) throws -> CoordinationSettings? {
        guard
            let t = try r.table(
                "coordination", expected: "a table { etcd = { \"http://host:2379\" }, name = \"sender-a\" }")
        else { return nil }
        try t.checkKeys(ConfigSchema.coordination)
        guard let urls = try t.strings("etcd"), !urls.isEmpty else {
            throw r.error("coordination", "coordination needs etcd = { \"http://host:2379\", … }")
        }
        var endpoints: [EtcdEndpoint] = []
        for url in urls {
            guard let endpoint = EtcdEndpoint(url) else {
                throw t.error(
                    "etcd", "coordination.etcd: \"\(url)\" is not http://host[:port] (no path; no https: a local proxy)"
                )
            }
            endpoints.append(endpoint)
        }
        // The same script on both machines: each is named after its host unless told otherwise.
        let name = try t.string("name") ?? HostName.current
        guard CoordinationSettings.isValidName(name) else {
            throw t.error("name", "coordination.name '\(name)' must be letters, digits, '.', '-' or '_' (at most 64)")
        }
        var lease = CoordinationSettings.defaultLease
        if let seconds = try t.seconds("lease") {
            let range = CoordinationSettings.leaseRange
            guard seconds == seconds.rounded(), range.contains(Int(seconds)) else {
                throw t.error(
                    "lease", "coordination.lease must be whole seconds from \(range.lowerBound) to \(range.upperBound)")
            }
            lease = Int(seconds)
        }
        var settings = CoordinationSettings(endpoints: endpoints, name: name, lease: lease)
        if let peers = try t.table("peers", expected: "a table { [\"sender-a\"] = \"runner://host:8730/source\" }") {
            guard peers.table.array.isEmpty else {
                throw t.error("peers", "coordination.peers must name each sender: { [\"sender-a\"] = \"runner://…\" }")
            }
            for (key, value) in peers.table.fields {
                let peer = key.description
                guard case .string = key, CoordinationSettings.isValidName(peer), let text = value.stringValue else {
                    throw t.error("peers", "coordination.peers: '\(peer)' must be a sender's name with a URI string")
                }
                let uri: TargetURI
                do { uri = try TargetURI(parsing: text) } catch {
                    throw t.error("peers", "coordination.peers.\(peer): \(error.message)")
                }
                switch uri {
                case .runner, .ssh: settings.peers[peer] = uri
                case .file, .rsync, .dial:
                    throw t.error(
                        "peers", "coordination.peers.\(peer): \(uri): a sender's source is a runner:// or ssh:// module"
                    )
                }
            }
        }
        return settings
    }
}
