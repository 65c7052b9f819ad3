/// The secrets of the receivers that dial in (`settings { dial_secrets }`): a `name:secret`
/// file, mode 0600, as a receiver's `secrets` is. Read when the script loads, so that a
/// `dial://` target without a secret is a configuration error, not a refusal at its dial.
public enum DialSecrets {
    /// `name -> secret` for the dial targets of `pipelines` (empty when they list none).
    public static func read(_ settings: Settings, pipelines: [PipelineConfig]) throws(ConfigError) -> [String: String] {
        guard let first = pipelines.first(where: { !$0.dialTargets.isEmpty }) else { return [:] }
        guard let path = settings.dialSecrets else {
            throw ConfigError(
                "pipeline '\(first.name)': \(first.dialTargets[0]) dials in, and settings has no dial_secrets",
                at: first.location,
                hint: "settings { dial_secrets = \"/etc/runner/dial.secrets\" } (name:secret lines, mode 0600)")
        }
        let secrets = try SecretsFile.readReceiverSecrets(path, at: first.location)
        for p in pipelines {
            for case .dial(let name, _) in p.dialTargets where secrets[name] == nil {
                throw ConfigError(
                    "pipeline '\(p.name)': dial://\(name)/… has no line in \(path)", at: p.location,
                    hint: "add a line \(name):<secret> to \(path)")
            }
        }
        return secrets
    }
}

extension PipelineConfig {
    /// The targets that dial in (`dial://name/module`).
    public var dialTargets: [TargetURI] {
        destinations.map(\.uri).filter { if case .dial = $0 { true } else { false } }
    }
}
