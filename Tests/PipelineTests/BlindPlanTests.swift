import Foundation
import Pipeline
import TestSupport
import Testing

/// A batch of small files, links and deletions is planned without the target's listing;
/// anything that needs the listing (a directory, a file large enough for a delta, a move)
/// is not.
@Suite struct BlindPlanTests {
    @Test func smallFilesLinksAndDeletionsArePlannedWithoutTheTarget() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("src/www.conf", "[www]\n")
        try dir.write("src/big.bin", String(repeating: "x", count: Int(SyncPlanner.blindLimit)))
        try FileManager.default.createSymbolicLink(atPath: dir.at("src/link"), withDestinationPath: "www.conf")
        try FileManager.default.createDirectory(atPath: dir.at("src/pool"), withIntermediateDirectories: true)
        let source = SourceDirectory(root: dir.at("src"))

        let plan = try #require(
            SyncPlanner.blind(paths: ["www.conf", "link", "gone.conf"], moves: [:], source: source, delete: true))
        #expect(plan.operations.map(\.path) == ["gone.conf", "link", "www.conf"])
        guard case .delete = plan.operations[0], case .symlink(_, "www.conf", _) = plan.operations[1],
            case .copy = plan.operations[2]
        else {
            Issue.record("unexpected operations: \(plan.operations)")
            return
        }
        let kept = try #require(SyncPlanner.blind(paths: ["gone.conf"], moves: [:], source: source, delete: false))
        #expect(kept.operations.isEmpty, "without delete, a path the source lacks stays")

        for needsListing in [["pool"], ["big.bin"], [""]] {
            #expect(SyncPlanner.blind(paths: needsListing, moves: [:], source: source, delete: true) == nil)
        }
        #expect(
            SyncPlanner.blind(paths: ["www.conf"], moves: ["www.conf": "old.conf"], source: source, delete: true) == nil
        )
    }
}
