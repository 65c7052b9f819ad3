import Logging

#if canImport(Glibc)
    import Glibc
#endif

extension ReceiverSession {
    /// Reads the sender's hello and picks the module; returns it with the sender's fencing
    /// token. Every refusal a stranger could learn from (unknown module, address not
    /// allowed) reads the same: access denied.
    static func handshake(
        modules: [ReceiverModule], mode: Mode, reader: FrameReader, writer: FrameWriter,
        logger: Logger, report: SessionReport
    ) throws(WireError) -> (module: ReceiverModule, token: UInt64) {
        // A connect-and-close (a monitoring probe) is no error: said at debug, counted apart.
        guard let hello = try reader.next() else { throw WireError.closedBeforeHello }
        if case .error(let text) = hello { throw WireError("the peer refused: \(text)", refusal: text) }
        guard case let .hello(version, maxFrame, name, user, token) = hello else {
            throw WireError("expected hello, got \(hello.frameType)")
        }
        guard version == UInt32(WireLimits.version) else {
            throw WireError("protocol version \(version) is not supported (this receiver speaks \(WireLimits.version))")
        }
        let agreed = min(max(maxFrame, 4096), WireLimits.ceiling)
        reader.limits.maxFrame = agreed
        writer.limits.maxFrame = agreed
        switch mode {
        case .ssh(let fixed), .dialed(let fixed, _, _):
            guard name == fixed, let module = modules.first(where: { $0.name == fixed }) else {
                throw WireError("unknown module")
            }
            return (module, token)
        case .daemon(let peer, _, _):
            guard let module = modules.first(where: { $0.name == name }) else {
                logger.warning("refused: no module '\(name)'", metadata: ["peer": "\(peer)", "user": "\(user)"])
                report.connected(.denied)
                throw WireError("access denied")
            }
            guard AddressRule.allows(peer, allow: module.hostsAllow, deny: module.hostsDeny) else {
                logger.warning("refused: address not allowed", metadata: ["peer": "\(peer)", "module": "\(name)"])
                report.connected(.denied, module: name)
                throw WireError("access denied")
            }
            if !module.authUsers.isEmpty {
                try authenticate(
                    module: module, user: user, peer: peer, reader: reader, writer: writer, logger: logger,
                    report: report)
            }
            return (module, token)
        }
    }

    /// Challenge-response against the module's secrets. Wrong user, wrong secret and a
    /// bad answer look the same to the sender, and each failure costs it a second.
    private static func authenticate(
        module: ReceiverModule, user: String, peer: String, reader: FrameReader, writer: FrameWriter,
        logger: Logger, report: SessionReport
    ) throws(WireError) {
        let nonce = AuthProof.nonce()
        try writer.send(.challenge(nonce: nonce))
        try writer.flush()
        let answer = try reader.receive()
        guard case .auth(let proof) = answer else { throw WireError("expected an auth answer") }
        var reason: String?
        if !module.authUsers.contains(user) {
            reason = "user '\(user)' is not in auth_users"
        } else {
            do {
                let secrets = try SecretsFile.readReceiverSecrets(module.secrets ?? "", at: module.location)
                if let secret = secrets[user] {
                    if !AuthProof.verify(proof, secret: secret, nonce: nonce, module: module.name, user: user) {
                        reason = "wrong secret for '\(user)'"
                    }
                } else {
                    reason = "no secret for '\(user)'"
                }
            } catch {
                reason = "secrets: \(error)"
            }
        }
        if let reason {
            logger.warning("refused: \(reason)", metadata: ["peer": "\(peer)", "module": "\(module.name)"])
            report.connected(.authFailed, module: module.name)
            // The refusal is decided: its second of delay is not the handshake's deadline's.
            alarm(0)
            sleep(1)
            throw WireError("access denied")
        }
        logger.info("authenticated", metadata: ["peer": "\(peer)", "module": "\(module.name)", "user": "\(user)"])
    }

    /// A read that waits longer than this fails (a slow or silent peer is dropped).
    static func setReceiveTimeout(_ fd: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
