import Foundation
import Logging
import LuaBridge
import Pipeline
import TestSupport
import Testing

/// plugins/tempfiles.lua: every tool's temp names are dropped, near misses are kept.
@Suite struct TempfilesPluginTests {
    static func filter(_ set: String) throws -> Filter {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.at("src"), withIntermediateDirectories: true)
        let file = try dir.write(
            "p.lua",
            """
            local tempfiles = require "tempfiles"
            pipeline "p" { source = "src", to = "file:///tmp/x", ignore = { tempfiles.\(set) } }
            """)
        let loader = ConfigLoader(
            file: file, logger: Logger(label: "test"), pluginDirectories: [RunnerProcess.packageRoot + "/plugins"])
        return try Filter(rules: try loader.load().0.pipelines[0].ignore)
    }

    @Test(arguments: [
        ("rsync", ".www.conf.a1B2c3"), ("rsync", ".a.conf.Xy12Zq"), ("rsync", "sub/.x.Ab12Cd"),
        ("rsync", ".~tmp~/www.conf"),
        ("vim", ".www.conf.swp"), ("vim", ".www.conf.swo"), ("vim", ".www.conf.swx"), ("vim", "4913"),
        ("vim", "www.conf~"),
        ("emacs", "#www.conf#"), ("emacs", ".#www.conf"), ("emacs", "www.conf~"),
        ("sed", "sedAb12Cd"), ("sed", "sub/sed0a9Zz1"),
        ("gedit", ".goutputstream-AB12CD"),
        ("jetbrains", "www.conf___jb_tmp___"), ("jetbrains", "www.conf___jb_old___"),
        ("kate", ".www.conf.kate-swp"), ("kate", "www.conf~"),
    ])
    func toolTempFilesAreIgnoredByTheirSetAndByAll(_ set: String, _ path: String) throws {
        let own = try Self.filter(set).decide(path, isDirectory: false)
        #expect(own.ignored)
        #expect(own.rule?.ruleSet == "tempfiles.\(set)")
        #expect(own.rule?.location?.file.hasSuffix("plugins/tempfiles.lua") == true)
        #expect(try Self.filter("all").isIgnored(path, isDirectory: false))
    }

    @Test(arguments: [
        ".env", "a.conf", ".htaccess", "sed.conf", "www.conf", "sedAb12", "sed", ".a.conf.Ab12C", ".a.conf.Ab12Cde",
        "4913.conf", "#notemacs", "swp", "a.swp.conf", "conf.d", ".goutputstream", "jb_tmp", "php-fpm.conf", "pool.d",
    ])
    func nearMissesAreKept(_ path: String) throws {
        #expect(try !Self.filter("all").isIgnored(path, isDirectory: false))
    }
}
