@testable import Pipeline

/// The text parsers under fuzzing: files a user wrote, and what other programs answer.
enum FuzzText {
    static func secrets(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        _ = try? SecretsFile.receiverSecrets(in: text, path: "fuzz")
        _ = try? SecretsFile.senderSecret(in: text, path: "fuzz", user: "sync", at: nil)
    }

    static func glob(_ input: [UInt8]) {
        let split = input.firstIndex(of: 10) ?? input.endIndex
        guard let pattern = try? GlobPattern(String(decoding: input[..<split], as: UTF8.self)) else { return }
        let path = Array(input[split...].dropFirst())
        _ = pattern.matches(path, isDirectory: false)
        _ = pattern.matches(path, isDirectory: true)
    }

    /// Records are read from the input as from the socket; its end is a closed connection.
    static func fastcgi(_ input: [UInt8]) {
        var offset = 0
        _ = try? FastCGIClient.readResponse { (count) throws(FastCGIClient.Failure) in
            guard count <= input.count - offset else { throw FastCGIClient.Failure(description: "closed") }
            defer { offset += count }
            return Array(input[offset..<(offset + count)])
        }
    }

    static func rsyncListing(_ input: [UInt8]) {
        for line in String(decoding: input, as: UTF8.self).split(separator: "\n") {
            _ = RsyncListing.parse(line)
        }
    }
}
