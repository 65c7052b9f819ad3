import Foundation
import LuaBridge
import Pipeline
import RunnerSystem
import TestSupport
import Testing

/// `settings { coordination = { … } }`: what loads, and every mistake named at its line.
@Suite struct CoordinationConfigTests {
    let loader = ConfigLoaderTests()

    @Test func coordinationLoadsWithItsDefaults() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        let config = try loader.load(
            """
            settings { coordination = { etcd = { "http://127.0.0.1:2379", "http://[::1]" } } }
            pipeline "p" { source = "src", to = { "file:///tmp/x" } }
            """, in: dir)
        let c = try #require(config.settings.coordination)
        #expect(c.endpoints.map(\.description) == ["http://127.0.0.1:2379", "http://[::1]:2379"])
        // Named after this host unless told otherwise: one script serves both machines.
        #expect(c.name == HostName.current && c.lease == 10)
    }

    @Test(
        arguments: [
            ("etcd = { \"https://e:2379\" }, name = \"a\"", "is not http://host[:port]"),
            ("etcd = { \"http://e:2379/v3\" }, name = \"a\"", "is not http://host[:port]"),
            ("name = \"a\"", "coordination needs etcd"),
            ("etcd = { \"http://e\" }, name = \"a b\"", "must be letters, digits"),
            ("etcd = { \"http://e\" }, name = \"a\", lease = 1", "coordination.lease must be whole seconds from 2"),
            ("etcd = { \"http://e\" }, name = \"a\", lease = 2.5", "coordination.lease must be whole seconds"),
            ("etcd = { \"http://e\" }, name = \"a\", ttl = 5", "unknown key 'ttl'"),
            ("etcd = { \"http://e\" }, peers = { [\"b\"] = \"file:///tmp/b\" }", "a sender's source is a runner://"),
            ("etcd = { \"http://e\" }, peers = { \"runner://h/m\" }", "must name each sender"),
            ("etcd = { \"http://e\" }, peers = { [\"b\"] = \"runner://h\" }", "coordination.peers.b:"),
        ])
    func aMistakeNamesItsLine(keys: String, message: String) throws {
        let e = try loader.failure(
            """
            settings {
              coordination = { \(keys) },
            }
            pipeline "p" { source = "src", to = { "file:///tmp/x" } }
            """)
        #expect(e.message.contains(message), "\(e)")
        #expect(e.location?.line == 2, "\(e)")
    }
}
