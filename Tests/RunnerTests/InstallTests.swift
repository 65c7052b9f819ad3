import Foundation
import TestSupport
import Testing

/// `make install`: what it lays out runs on its own, and the units it installs are
/// ones systemd accepts.
@Suite struct InstallTests {
    /// `make install` of the built binary (BINARY: no release build inside a test).
    static func install(_ variables: String, in dir: TemporaryDirectory) throws -> (status: Int32, output: String) {
        try sh("make -C \(RunnerProcess.packageRoot) install BINARY=\(RunnerProcess.binary) \(variables)", in: dir.path)
    }

    @Test func theStagedInstallFindsItsPluginsBesideTheBinary() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let made = try Self.install("DESTDIR=\(dir.at("stage"))", in: dir)
        #expect(made.status == 0, "\(made.output)")
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        let script = try dir.write(
            "p.lua",
            """
            local tempfiles = require "tempfiles"
            pipeline "p" { source = "src", ignore = { tempfiles.all }, to = { "file://\(dir.at("out"))" } }
            """)
        // No RUNNER_PLUGIN_PATH, and outside the checkout: only the installed plugins can answer.
        let check = try sh(
            "env -u RUNNER_PLUGIN_PATH \(dir.at("stage"))/usr/local/bin/runner check \(script)", in: dir.path)
        #expect(check.status == 0, "\(check.output)")
        let manual = try String(contentsOfFile: dir.at("stage/usr/local/share/doc/runner/runner.txt"), encoding: .utf8)
        #expect(manual.contains("SIGNALS") && manual.contains("EXIT STATUS"))
        let units = try FileManager.default.contentsOfDirectory(atPath: dir.at("stage/usr/local/lib/systemd/system"))
        #expect(Set(units) == ["runner@.service", "runner-serve@.service"])
    }

    @Test func theInstalledUnitsPassSystemdAnalyzeVerify() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Without DESTDIR the units name the installed binary, which verify checks exists.
        let made = try Self.install("PREFIX=\(dir.at("prefix"))", in: dir)
        #expect(made.status == 0, "\(made.output)")
        let units = dir.at("prefix/lib/systemd/system")
        let unit = try String(contentsOfFile: units + "/runner@.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(dir.at("prefix"))/bin/runner run /etc/runner/%i.lua"))
        let verify = try sh("systemd-analyze verify runner@.service runner-serve@.service 2>&1", in: units)
        #expect(verify.status == 0 && verify.output.isEmpty, "\(verify.output)")
    }

    /// The .deb `make test` built (`make deb`), installed into a scratch root (an overlay
    /// over / in a mount namespace of its own), checked file by file, then purged.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg")))
    func thePackageInstallsIntoAScratchRootAndPurgesCleanly() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let built = RunnerProcess.packageRoot + "/.build/deb"
        let deb = try #require(
            (try? FileManager.default.contentsOfDirectory(atPath: built))?.first { $0.hasSuffix(".deb") },
            "no package in \(built): run make deb")
        let run = try sh("bash \(RunnerProcess.packageRoot)/scripts/test-deb.sh \(built)/\(deb) 2>&1", in: dir.path)
        #expect(run.status == 0 && run.output.hasSuffix("deb: ok\n"), "\(run.output)")
    }
}
