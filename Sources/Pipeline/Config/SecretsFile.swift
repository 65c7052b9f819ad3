#if canImport(Glibc)
    import Glibc
#endif

/// The two secrets files, and the checks that catch the classic rsync mistakes:
/// a receiver's `secrets` holds `user:secret` lines, a sender's `secret_file` holds
/// only the bare secret, and both must be mode 0600 and owned by the user that reads them.
public enum SecretsFile {
    /// Checks a sender's `secret_file` and returns the secret.
    public static func readSenderSecret(_ path: String, user: String, at location: SourceLocation?) throws(ConfigError)
        -> String
    {
        try senderSecret(in: try readProtected(path, at: location), path: path, user: user, at: location)
    }

    /// The secret a sender's `secret_file` text holds (`path` and `location` for errors).
    static func senderSecret(in text: String, path: String, user: String, at location: SourceLocation?)
        throws(ConfigError) -> String
    {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.trimming(" \t\r") }
            .filter { !$0.isEmpty }
        guard lines.count == 1, let secret = lines.first else {
            throw ConfigError(
                "\(path): a sender secret_file holds exactly one line, the bare secret (found \(lines.count) lines)",
                at: location, hint: "write only the secret: printf '%s\\n' 'the-secret' > \(path)")
        }
        if secret.hasPrefix(user + ":") {
            throw ConfigError(
                "\(path): this looks like a receiver secrets line ('\(user):...'); a sender's secret_file holds only the secret",
                at: location,
                hint: "remove the '\(user):' prefix; user:secret lines belong in the receiver's secrets file")
        }
        return secret
    }

    /// Checks a receiver's `secrets` file and returns `user -> secret`.
    public static func readReceiverSecrets(_ path: String, at location: SourceLocation?) throws(ConfigError) -> [String:
        String]
    {
        try receiverSecrets(in: try readProtected(path, at: location), path: path)
    }

    /// The `user -> secret` lines of a receiver's `secrets` file text.
    static func receiverSecrets(in text: String, path: String) throws(ConfigError) -> [String: String] {
        var result: [String: String] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimming(" \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let here = SourceLocation(file: path, line: i + 1)
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                line.index(after: colon) != line.endIndex
            else {
                throw ConfigError(
                    "a receiver secrets line must be user:secret (this looks like a bare sender secret)", at: here,
                    hint: "write user:secret, e.g. sync:the-secret; the sender's secret_file holds only the secret")
            }
            let user = String(line[..<colon])
            if result[user] != nil { throw ConfigError("user '\(user)' appears twice", at: here) }
            result[user] = String(line[line.index(after: colon)...])
        }
        return result
    }

    /// Reads a secrets file after checking that it is a regular file, 0600 (no group
    /// or other bits) and owned by the effective user.
    static func readProtected(_ path: String, at location: SourceLocation?) throws(ConfigError) -> String {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw ConfigError("secrets file \(path): \(String(cString: strerror(errno)))", at: location)
        }
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw ConfigError("secrets file \(path) is not a regular file", at: location)
        }
        if st.st_mode & 0o077 != 0 {
            throw ConfigError(
                "secrets file \(path) has mode \(String(st.st_mode & 0o777, radix: 8)); it must not be readable by group or others",
                at: location, hint: "chmod 600 \(path)")
        }
        if st.st_uid != geteuid() {
            throw ConfigError(
                "secrets file \(path) is owned by uid \(st.st_uid), not by the user running runner (uid \(geteuid()))",
                at: location, hint: "chown $(id -un) \(path)")
        }
        guard let f = fopen(path, "r") else {
            throw ConfigError("secrets file \(path): \(String(cString: strerror(errno)))", at: location)
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[..<n]
            if bytes.count > 1 << 20 { throw ConfigError("secrets file \(path) is larger than 1 MiB", at: location) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    fileprivate func trimming(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
