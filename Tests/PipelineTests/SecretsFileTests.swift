import Foundation
import Pipeline
import TestSupport
import Testing

/// One secrets format each side, mode 0600, and the swapped formats caught.
@Suite struct SecretsFileTests {
    @Test func senderSecretIsTheBareSecret() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let f = try dir.write("sync.secret", "s3cret\n", mode: 0o600)
        #expect(try SecretsFile.readSenderSecret(f, user: "sync", at: nil) == "s3cret")
    }

    @Test func readableByOthersIsRefusedWithTheFix() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let f = try dir.write("sync.secret", "s3cret\n", mode: 0o644)
        do {
            _ = try SecretsFile.readSenderSecret(f, user: "sync", at: nil)
            Issue.record("a 0644 secret was accepted")
        } catch {
            #expect(error.message.contains("mode 644"))
            #expect(error.hint == "chmod 600 \(f)")
        }
    }

    @Test func receiverLineInSenderFileIsCaught() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let f = try dir.write("sync.secret", "sync:s3cret\n", mode: 0o600)
        #expect(throws: ConfigError.self) { try SecretsFile.readSenderSecret(f, user: "sync", at: nil) }
    }

    @Test func receiverSecretsNeedUserColonSecretAndNameTheLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let good = try dir.write("ok.secrets", "# comment\nsync:a\n\nother:b\n", mode: 0o600)
        #expect(try SecretsFile.readReceiverSecrets(good, at: nil) == ["sync": "a", "other": "b"])
        let bad = try dir.write("bad.secrets", "sync:a\njustasecret\n", mode: 0o600)
        do {
            _ = try SecretsFile.readReceiverSecrets(bad, at: nil)
            Issue.record("a bare secret was accepted")
        } catch {
            #expect(error.location == SourceLocation(file: bad, line: 2))
        }
    }
}
