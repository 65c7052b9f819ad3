import Foundation
import RunnerSystem
import TestSupport
import Testing

@testable import Pipeline

/// The receiver reaches its module only through descriptors: a symlink anywhere below
/// the root is never followed, with openat2 and with the per-component walk alike.
@Suite struct TreeDirectoryTests {
    @Test(arguments: [false, true])
    func symlinksBelowTheRootAreNeverFollowed(perComponent: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("outside/secret", "s")
        try dir.write("module/d/e/f", "x")
        symlink(dir.at("outside"), dir.at("module/out"))
        symlink("d", dir.at("module/inner"))
        let tree = try TreeDirectory(dir.at("module"), perComponent: perComponent)
        let path = { (p: String) in try RelativePath(validating: p) }

        _ = try tree.openDirectory(path("d/e/f").parent, create: false)
        #expect(tree.info(try path("d/e/f"))?.size == 1)
        // Through a link out of the module, or even one that stays inside: refused.
        for p in ["out/secret", "inner/e/f"] {
            #expect(tree.info(try path(p)) == nil, "\(p)")
            #expect(throws: TransferError.self) { _ = try tree.openDirectory(path(p).parent, create: true) }
        }
        // A file where a directory is expected.
        #expect(throws: TransferError.self) { _ = try tree.openDirectory(path("d/e/f/g").parent, create: true) }
        // A final symlink is looked at, not through.
        #expect(tree.info(try path("out"))?.kind == .symlink)
        // Missing parents are created; nothing appeared outside.
        _ = try tree.openDirectory(path("n/m/x").parent, create: true)
        #expect(FileInfo.lstat(dir.at("module/n/m"))?.kind == .directory)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.at("outside")) == ["secret"])
    }
}

@Suite struct SymlinkDestinationTests {
    @Test(arguments: [
        ("a/link", "b.conf", true), ("a/link", "../b.conf", true), ("a/link", "../../b.conf", false),
        ("link", "..", false), ("link", ".", true), ("a/b/link", "../../x/./y", true),
        ("link", "/srv/module/x.conf", true), ("link", "/srv/module", true), ("link", "/srv/modulex/y", false),
        ("link", "/etc/passwd", false), ("a/link", "x/../../..", false),
    ])
    func aLinkStaysInsideOnlyWhenItsTextSaysSo(_ path: String, _ destination: String, _ inside: Bool) throws {
        #expect(try RelativePath(validating: path).linkStaysInside(destination, root: "/srv/module") == inside)
    }
}
