import RunnerSystem
import Testing

@testable import Pipeline

/// A receiver's listing is held to the scan it answers.
@Suite struct RemoteListingTests {
    static func entry(_ path: String, directory: Bool = false) -> WireEntry {
        WireEntry(
            path: path,
            info: FileInfo(
                kind: directory ? .directory : .file, mode: 0o644, size: 1, mtimeSeconds: 0, mtimeNanoseconds: 0))
    }

    @Test func ancestorsTheScannedPathsAndWhatIsBelowThemAreTaken() throws {
        var listing = RemoteListing(scanning: ["a/b", "c.conf"])
        try listing.add(Self.entry("a", directory: true))
        try listing.add(Self.entry("a/b", directory: true))
        try listing.add(Self.entry("a/b/x.conf"))
        try listing.add(Self.entry("c.conf"))
        #expect(listing.list("a/b") == ["x.conf"])
        #expect(listing.info("c.conf")?.kind == .file)
    }

    @Test func whatWasNotAskedForIsRefused() throws {
        var listing = RemoteListing(scanning: ["a/b"])
        try listing.add(Self.entry("a", directory: true))
        #expect(throws: WireError.self) { try listing.add(Self.entry("a/other")) }
        #expect(throws: WireError.self) { try listing.add(Self.entry("elsewhere")) }
        #expect(throws: WireError.self) { try listing.add(Self.entry("")) }
    }

    @Test(arguments: ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\0b"])
    func unsafePathsAreRefused(_ path: String) {
        var listing = RemoteListing(scanning: [""])
        #expect(throws: WireError.self) { try listing.add(Self.entry(path)) }
    }

    @Test func anEntryComesOnceAndAfterItsDirectory() throws {
        var listing = RemoteListing(scanning: [""])
        #expect(throws: WireError.self) { try listing.add(Self.entry("a")) }
        try listing.add(Self.entry("", directory: true))
        try listing.add(Self.entry("a"))
        #expect(throws: WireError.self) { try listing.add(Self.entry("a")) }
        #expect(throws: WireError.self) { try listing.add(Self.entry("a/below-a-file")) }
    }
}
