import Foundation
import TestSupport
import Testing

/// A module's `symlinks`: a link that leaves the module is refused by default (whatever
/// reads the module would follow it), kept when the module says "keep".
@Suite struct SymlinkPolicyTests {
    @Test func linksOutOfTheModuleAreRefusedByDefaultAndKeptWhenAsked() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for d in ["src", "safe", "keep"] {
            try FileManager.default.createDirectory(atPath: dir.at(d), withIntermediateDirectories: true)
        }
        try dir.write(
            "receiver.lua",
            """
            settings { listen = "127.0.0.1:0" }
            module "safe" { path = "safe" }
            module "keep" { path = "keep", symlinks = "keep" }
            """)
        let daemon = try await ServeProcess(script: dir.at("receiver.lua"), logDirectory: dir.path)
        func sync(_ module: String) async throws -> (status: Int32, stdout: String, stderr: String) {
            let script = try dir.write(
                "\(module).lua",
                "pipeline \"p\" { source = \"src\", to = { \"runner://127.0.0.1:\(daemon.port)/\(module)\" } }\n")
            return try await RunnerProcess.run(["run", "--once", script], logDirectory: dir.path)
        }
        // A link inside the module is kept by both.
        try dir.write("src/www.conf", "[www]\n")
        try FileManager.default.createSymbolicLink(atPath: dir.at("src/current.conf"), withDestinationPath: "www.conf")
        for module in ["safe", "keep"] {
            #expect(try await sync(module).status == 0)
            #expect(
                try FileManager.default.destinationOfSymbolicLink(atPath: dir.at("\(module)/current.conf"))
                    == "www.conf")
        }
        // Out of the module: an absolute link, and one that climbs above it.
        try FileManager.default.createSymbolicLink(atPath: dir.at("src/leak.conf"), withDestinationPath: "/etc/passwd")
        try FileManager.default.createDirectory(atPath: dir.at("src/sub"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.at("src/sub/up"), withDestinationPath: "../..")
        try dir.write("src/new.conf", "[new]\n")
        let refused = try await sync("safe")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("leaves module 'safe'"), "\(refused.stderr)")
        // Refused whole: nothing of that batch is there.
        for name in ["leak.conf", "sub", "new.conf"] {
            #expect(!FileManager.default.fileExists(atPath: dir.at("safe/\(name)")), "\(name)")
        }
        #expect(try await sync("keep").status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.at("keep/leak.conf")) == "/etc/passwd")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.at("keep/sub/up")) == "../..")
        _ = await daemon.stop()
    }
}
