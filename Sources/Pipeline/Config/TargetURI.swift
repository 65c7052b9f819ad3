/// Where a pipeline sends its batches: `runner://host[:port]/module`,
/// `ssh://[user@]host[:port]/module`, `rsync://[user@]host[:port]/module` (an rsync
/// daemon), `dial://name/module` (a receiver that dials in) or `file:///absolute/path`.
public enum TargetURI: Sendable, Hashable, CustomStringConvertible {
    /// A `runner serve` daemon.
    case runner(host: String, port: Int, module: String)
    /// `runner receive` over the system `ssh`.
    case ssh(user: String?, host: String, port: Int?, module: String)
    /// A module of an rsync daemon, driven through the system `rsync` client.
    case rsync(user: String?, host: String, port: Int, module: String)
    /// A directory on this host.
    case file(path: String)
    /// A receiver's module that dials this sender (its `upstream`), under the name it claims.
    case dial(name: String, module: String)

    /// The port an rsync daemon listens on when a URI names none.
    public static let defaultRsyncPort = 873

    /// The port `runner serve` listens on when a URI names none.
    public static let defaultRunnerPort = 8730

    /// Parses and validates a target URI; the error says what is wrong with it.
    public init(parsing text: String) throws(ConfigError) {
        func bad(_ why: String) -> ConfigError {
            ConfigError(
                "invalid target '\(text)': \(why)",
                hint:
                    "targets look like runner://host[:port]/module, ssh://[user@]host/module, rsync://[user@]host/module, dial://name/module or file:///abs/path"
            )
        }
        guard let schemeEnd = text.firstRange(of: "://") else { throw bad("no scheme") }
        let scheme = String(text[..<schemeEnd.lowerBound])
        let rest = String(text[schemeEnd.upperBound...])
        switch scheme {
        case "file":
            guard rest.hasPrefix("/") else { throw bad("file:// needs an absolute path (file:///srv/x)") }
            var path = rest
            while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
            guard path != "/" else { throw bad("the file system root cannot be a target") }
            guard !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
                throw bad("the path must not contain '.' or '..'")
            }
            self = .file(path: path)
        case "dial":
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { throw bad("dial:// takes a name and a module: dial://web-f1/fpm") }
            guard TargetURI.isValidModuleName(parts[0]) else {
                throw bad("name '\(parts[0])' must be letters, digits, '.', '_' or '-'")
            }
            guard TargetURI.isValidModuleName(parts[1]) else {
                throw bad("module name '\(parts[1])' must be letters, digits, '.', '_' or '-'")
            }
            self = .dial(name: parts[0], module: parts[1])
        case "runner", "ssh", "rsync":
            guard let slash = rest.firstIndex(of: "/") else { throw bad("no /module after the host") }
            var authority = String(rest[..<slash])
            let module = String(rest[rest.index(after: slash)...])
            guard TargetURI.isValidModuleName(module) else {
                throw bad("module name '\(module)' must be letters, digits, '.', '_' or '-'")
            }
            var user: String?
            if let at = authority.lastIndex(of: "@") {
                guard scheme != "runner" else { throw bad("runner:// takes no user; the pipeline's auth names it") }
                user = String(authority[..<at])
                authority = String(authority[authority.index(after: at)...])
                guard let u = user, !u.isEmpty, u.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) })
                else {
                    throw bad("empty or odd user name")
                }
            }
            let (host, port) = try TargetURI.splitHostPort(authority, bad: bad)
            if scheme == "runner" {
                self = .runner(host: host, port: port ?? TargetURI.defaultRunnerPort, module: module)
            } else if scheme == "rsync" {
                self = .rsync(user: user, host: host, port: port ?? TargetURI.defaultRsyncPort, module: module)
            } else {
                self = .ssh(user: user, host: host, port: port, module: module)
            }
        default:
            throw bad("unknown scheme '\(scheme)'")
        }
    }

    /// The host name (`localhost` for `file://`), as templates' `{{ host }}` reads it.
    public var hostName: String {
        switch self {
        case .runner(let host, _, _), .ssh(_, let host, _, _), .rsync(_, let host, _, _), .dial(let host, _):
            return host
        case .file: return "localhost"
        }
    }

    /// The receiver's module (for `file://`, the path).
    public var module: String {
        switch self {
        case .runner(_, _, let module), .ssh(_, _, _, let module), .rsync(_, _, _, let module),
            .dial(_, let module):
            return module
        case .file(let path): return path
        }
    }

    /// Module names: non-empty, letters, digits, `.`, `_`, `-`, not starting with a dot.
    public static func isValidModuleName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && (isASCIIAlphanumeric($0) || "._-".unicodeScalars.contains($0))
            }
    }

    private static func splitHostPort(_ authority: String, bad: (String) -> ConfigError) throws(ConfigError) -> (
        String, Int?
    ) {
        var host = authority
        var portText: String?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw bad("unclosed '[' in an IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portText = String(after.dropFirst())
            } else if !after.isEmpty {
                throw bad("junk after ']'")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = String(authority[authority.index(after: colon)...])
        }
        guard !host.isEmpty else { throw bad("no host") }
        guard
            host.unicodeScalars.allSatisfy({
                $0.isASCII && (isASCIIAlphanumeric($0) || ".-_:".unicodeScalars.contains($0))
            })
        else {
            throw bad("host '\(host)' has characters a host name cannot have")
        }
        guard let portText else { return (host, nil) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw bad("port '\(portText)' is not 1-65535")
        }
        return (host, port)
    }

    public var description: String {
        switch self {
        case let .runner(host, port, module): return "runner://\(TargetURI.bracket(host)):\(port)/\(module)"
        case let .ssh(user, host, port, module):
            return
                "ssh://\(user.map { "\($0)@" } ?? "")\(TargetURI.bracket(host))\(port.map { ":\($0)" } ?? "")/\(module)"
        case let .rsync(user, host, port, module):
            return "rsync://\(user.map { "\($0)@" } ?? "")\(TargetURI.bracket(host)):\(port)/\(module)"
        case let .file(path): return "file://\(path)"
        case let .dial(name, module): return "dial://\(name)/\(module)"
        }
    }

    private static func bracket(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }
}

private func isASCIIAlphanumeric(_ s: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
}
