import Foundation
import Pipeline
import TestSupport
import Testing

/// A revision's identity across senders: the same tree cut by two stores (each with its own
/// seed, so their hashes differ) has one identity, whichever way it was cut; a file's time,
/// content size or mode moved gives another.
@Suite struct RevisionIdentityTests {
    typealias Fixture = RevisionLogTests.Fixture

    @Test func theSameTreeInTwoStoresHasOneIdentityAndAnEditAnother() throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        try f.dir.write("src/www.conf", "[www]\n")
        try f.dir.write("src/conf.d/a.conf", "a\n")
        try f.dir.write("src/conf.d/deep/b.conf", "b\n")
        let a = try RevisionLog(directory: f.dir.at("a"))
        let b = try RevisionLog(directory: f.dir.at("b"))
        let first = try #require(f.cut(a).record)
        // b is cut in two steps (the whole tree, then one path), a in one.
        try f.dir.write("src/conf.d/a.conf", "A\n")
        let whole = try #require(f.cut(b).record)
        let second = try #require(f.cut(a, ["conf.d/a.conf"]).record)
        #expect(first.root != whole.root, "each store's hashes are its own")
        #expect(a.identity(of: second) == b.identity(of: whole))
        #expect(a.identity(of: first) != a.identity(of: second))
        // Only a file's time moved: another identity (what a quick check would see).
        let touched = Date(timeIntervalSince1970: 1_700_000_000)
        try FileManager.default.setAttributes([.modificationDate: touched], ofItemAtPath: f.dir.at("src/www.conf"))
        let third = try #require(f.cut(b).record)
        #expect(b.identity(of: third) != b.identity(of: whole))
    }
}
