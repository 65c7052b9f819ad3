import Foundation
import LuaBridge
import Pipeline
import TestSupport
import Testing

/// `upstream` of a receiver's module and `dial://` targets of a sender: read, and refused at
/// their line when malformed, with a secret that is missing, open to others or absent.
@Suite struct DialConfigTests {
    let loader = ConfigLoaderTests()

    private func secret(_ dir: TemporaryDirectory, _ name: String, _ text: String, mode: mode_t = 0o600) throws {
        try dir.write(name, text)
        chmod(dir.at(name), mode)
    }

    @Test func anUpstreamLoads() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try secret(dir, "web.secret", "s3cret\n")
        let config = try loader.load(
            """
            module "fpm" { path = "\(dir.at("m"))",
              upstream = { url = "runner://127.0.0.1:8731/php-env", name = "web-f1", secret_file = "\(dir.at("web.secret"))" } }
            """, in: dir)
        let upstream = try #require(config.modules.first?.upstream)
        #expect(upstream.url == .runner(host: "127.0.0.1", port: 8731, module: "php-env"))
        #expect(upstream.name == "web-f1")
    }

    @Test(arguments: [
        ("url = \"ssh://h/p\", name = \"a\", secret_file = \"S\"", "upstream.url must be runner://"),
        ("url = \"runner://h:1/p\", name = \"a b\", secret_file = \"S\"", "upstream.name 'a b' must be"),
        ("url = \"runner://h:1/p\", name = \"a\"", "upstream needs url, name and secret_file"),
        ("url = \"runner://h:1/p\", name = \"a\", secret_file = \"S\", port = 3", "port"),
        ("url = \"runner://h:1/p\", name = \"a\", secret_file = \"OPEN\"", "must not be readable by group or others"),
    ])
    func aBadUpstreamNamesItsLine(keys: String, message: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try secret(dir, "S", "s3cret\n")
        try secret(dir, "OPEN", "s3cret\n", mode: 0o644)
        let e = try loader.failure(
            """
            module "fpm" { path = "/tmp/m",
              upstream = { \(keys.replacingOccurrences(of: "\"S\"", with: "\"\(dir.at("S"))\"").replacingOccurrences(of: "\"OPEN\"", with: "\"\(dir.at("OPEN"))\"")) } }
            """)
        #expect(e.message.contains(message) || (e.hint ?? "").contains(message), "\(e)")
        #expect(e.location?.line == 2, "\(e)")
    }

    @Test(arguments: [
        ("dial://web-f1/fpm", nil),
        ("dial://web-f1", "dial:// takes a name and a module"),
        ("dial://we b/fpm", "name 'we b' must be"),
    ])
    func dialTargetsParse(_ text: String, _ message: String?) throws {
        do {
            let uri = try TargetURI(parsing: text)
            #expect(message == nil)
            #expect(uri == .dial(name: "web-f1", module: "fpm"))
            #expect("\(uri)" == text)
        } catch {
            #expect(message.map { error.message.contains($0) } == true, "\(error)")
        }
    }

    @Test func aDialTargetNeedsDialSecretsWithItsName() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try secret(dir, "dial.secrets", "web-f1:a\n")
        let pipeline = "pipeline \"p\" { source = \"\(dir.path)\", to = { \"dial://web-f2/fpm\" } }"
        let none = try loader.load(pipeline, in: dir)
        #expect(throws: ConfigError.self) { try DialSecrets.read(none.settings, pipelines: none.pipelines) }
        let missing = try loader.load("settings { dial_secrets = \"\(dir.at("dial.secrets"))\" }\n" + pipeline, in: dir)
        do {
            _ = try DialSecrets.read(missing.settings, pipelines: missing.pipelines)
            Issue.record("a dial name without a secret was accepted")
        } catch {
            #expect(error.message.contains("dial://web-f2/… has no line in"), "\(error)")
        }
        try secret(dir, "dial.secrets", "web-f1:a\nweb-f2:b\n")
        #expect(try DialSecrets.read(missing.settings, pipelines: missing.pipelines) == ["web-f1": "a", "web-f2": "b"])
    }
}
