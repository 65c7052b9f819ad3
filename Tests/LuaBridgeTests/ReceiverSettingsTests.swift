import Foundation
import LuaBridge
import Pipeline
import TestSupport
import Testing

/// A receiver's limits on connections that have not authenticated: read, and refused at
/// their line when malformed.
@Suite struct ReceiverSettingsTests {
    let loader = ConfigLoaderTests()

    @Test func maxStartupsAndPerSourceStartupsLoad() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let config = try loader.load(
            """
            settings { listen = "127.0.0.1:0", max_startups = "20:50:200", per_source_startups = 4 }
            module "m" { path = "\(dir.at("m"))" }
            """, in: dir)
        var expected = StartupLimits()
        (expected.start, expected.rate, expected.full, expected.perAddress) = (20, 50, 200, 4)
        #expect(config.settings.startups == expected)
    }

    @Test(arguments: [
        ("max_startups = \"10:30\"", "'max_startups' must be start:rate:full"),
        ("per_source_startups = 0", "'per_source_startups' must be a whole number >= 1"),
    ])
    func aMalformedLimitNamesItsLine(key: String, message: String) throws {
        let e = try loader.failure(
            """
            settings {
              \(key),
            }
            module "m" { path = "/tmp/m" }
            """)
        #expect(e.message.contains(message), "\(e)")
        #expect(e.location?.line == 2, "\(e)")
    }
}
