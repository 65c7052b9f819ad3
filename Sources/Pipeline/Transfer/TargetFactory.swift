import RunnerSystem

/// Makes the target a pipeline's destination names: `file://` (a local directory, which must
/// not overlap the source), `ssh://`, `rsync://` or `runner://`, with the pipeline's auth and
/// timeout. A bad `secret_file` is a `ConfigError`; a local target whose interrupted batch
/// cannot be rolled back is a `TransferError`.
public enum TargetFactory {
    /// The target for `destination`; `dryRun` touches nothing and plans every batch against
    /// the target's listing. The hosts of a pipeline share `deltas`.
    public static func make(
        _ destination: PipelineConfig.Destination, config: PipelineConfig, dryRun: Bool,
        token: FencingToken = FencingToken(), deltas: DeltaCache = DeltaCache(), dialBoard: DialBoard? = nil
    ) throws -> any SyncTarget {
        switch destination.uri {
        case .file(let path):
            // As written and as the links lead (a source `current -> releases/N`).
            let sources = Set([config.source, FileSystem.realPath(config.source) ?? config.source])
            if sources.contains(where: { path == $0 || path.hasPrefix($0 + "/") || $0.hasPrefix(path + "/") }) {
                throw ConfigError(
                    "pipeline '\(config.name)': target \(destination.uri) overlaps the source \(config.source)",
                    at: config.location)
            }
            // Opening a target rolls back a batch a crash interrupted there.
            return try LocalTarget(root: path, recover: !dryRun)
        case let .ssh(user, host, port, module):
            let ssh = config.ssh
            return RemoteTarget(
                uri: destination.uri,
                command: RemoteTarget.sshCommand(
                    user: user, host: host, port: port, module: module,
                    ssh: ssh.command, runner: ssh.runner, receiver: ssh.receiver, timeout: config.timeout),
                timeout: config.timeout, alwaysLists: dryRun, numericIDs: config.numericIDs, token: token,
                deltas: deltas)
        case .rsync:
            if let auth = config.auth {
                // Checked as for runner:// (mode 0600, one secret); rsync reads the file itself.
                _ = try SecretsFile.readSenderSecret(auth.secretFile, user: auth.user, at: config.location)
            }
            return RsyncTarget(
                uri: destination.uri, user: config.auth?.user, passwordFile: config.auth?.secretFile,
                timeout: config.timeout, numericIDs: config.numericIDs)
        case .dial:
            guard let dialBoard else {
                throw ConfigError(
                    "pipeline '\(config.name)': \(destination.uri) needs settings { listen = \"host:port\", dial_secrets = \"…\" }",
                    at: config.location)
            }
            return RemoteTarget(
                uri: destination.uri, command: [], timeout: config.timeout, alwaysLists: dryRun,
                numericIDs: config.numericIDs, token: token, deltas: deltas, dialing: (dialBoard, config.name))
        case .runner:
            var credentials: (user: String, secret: String)?
            if let auth = config.auth {
                credentials = (
                    auth.user, try SecretsFile.readSenderSecret(auth.secretFile, user: auth.user, at: config.location)
                )
            }
            return RemoteTarget(
                uri: destination.uri, command: [], credentials: credentials, timeout: config.timeout,
                alwaysLists: dryRun, numericIDs: config.numericIDs, token: token, deltas: deltas)
        }
    }
}
