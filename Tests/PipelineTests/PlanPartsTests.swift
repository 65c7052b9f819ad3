import Foundation
import RunnerSystem
import TestSupport
import Testing

@testable import Pipeline

/// A plan handed over in parts as the walk goes, and a target that stages each part as it
/// comes: the same batch as a plan made whole, in memory that does not grow with the tree.
@Suite struct PlanPartsTests {
    /// A source of new nested directories, edited and unchanged files, and a target with
    /// entries the source lacks.
    static func trees(_ dir: TemporaryDirectory) throws {
        for i in 0..<12 { try dir.write("src/new/d\(i % 3)/e\(i)/pool.conf", "[\(i)]\n") }
        for i in 0..<6 { try dir.write("src/kept/f\(i).conf", "same \(i)\n") }
        try dir.write("src/kept/edited.conf", "new\n")
        try FileManager.default.createDirectory(atPath: dir.at("dst"), withIntermediateDirectories: true)
        for i in 0..<6 { try dir.write("dst/kept/f\(i).conf", "same \(i)\n") }
        try dir.write("dst/kept/edited.conf", "old\n")
        try dir.write("dst/gone/x.conf", "x\n")
        try dir.write("dst/kept/gone.conf", "x\n")
        let past = Date().addingTimeInterval(-3600)
        for i in 0..<6 {
            for tree in ["src", "dst"] {
                try FileManager.default.setAttributes(
                    [.modificationDate: past], ofItemAtPath: dir.at("\(tree)/kept/f\(i).conf"))
            }
        }
        chmod(dir.at("src/new/d1"), 0o555)
        chmod(dir.at("src/new/d2/e2"), 0o750)
    }

    /// Staging keeps an empty batch directory while the target lives, and goes with it.
    static func expectNothingStaged(_ target: LocalTarget) {
        let staged = (try? FileManager.default.subpathsOfDirectory(atPath: target.stagingRoot)) ?? []
        #expect(staged.allSatisfy { !$0.contains("/") }, "\(staged)")
        target.disconnect()
        #expect(!FileManager.default.fileExists(atPath: target.stagingRoot))
    }

    @Test func partsMakeTheWholePlanInOrderWithDeletionsLast() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.trees(dir)
        let planner = SyncPlanner(
            source: SourceDirectory(root: dir.at("src")), target: dir.at("dst"), filter: try Filter(rules: []),
            delete: true)
        let whole = try planner.plan(paths: nil)
        var parts: [SyncPlan] = []
        try planner.plan(paths: nil, partSize: 4) { parts.append($0) }
        #expect(parts.count == (whole.operations.count + 3) / 4)
        #expect(parts.allSatisfy { $0.operations.count <= 4 })
        #expect(parts.flatMap(\.operations) == whole.operations)
        let deletes = whole.operations.enumerated().filter { if case .delete = $0.element { true } else { false } }
        #expect(deletes.map(\.element.path) == ["gone", "kept/gone.conf"])
        #expect(deletes.map(\.offset) == Array((whole.operations.count - 2)..<whole.operations.count))
    }

    @Test func aTargetStagesPartByPartIntoOneBatch() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.trees(dir)
        let target = try LocalTarget(root: dir.at("dst"))
        target.partSize = 3
        let outcome = try target.sync(
            paths: nil, moves: [:], source: SourceDirectory(root: dir.at("src")), filter: try Filter(rules: []),
            delete: true, cancelled: { false })
        #expect(TreeSnapshot(dir.at("src")) == TreeSnapshot(dir.at("dst")))
        // Twelve new files and one edited; two paths deleted.
        #expect(outcome.written == 13 && outcome.deleted == 2, "\(outcome)")
        for d in ["new", "new/d1", "new/d2/e2", "new/d0/e3"] {
            let s = FileInfo.lstat(dir.at("src/" + d))!, t = FileInfo.lstat(dir.at("dst/" + d))!
            #expect(
                s.mode == t.mode && s.mtimeSeconds == t.mtimeSeconds && s.mtimeNanoseconds == t.mtimeNanoseconds, "\(d)"
            )
        }
        Self.expectNothingStaged(target)
    }

    @Test func aShutdownBetweenPartsLeavesTheTargetAsItWas() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.trees(dir)
        let before = TreeSnapshot(dir.at("dst"))
        let target = try LocalTarget(root: dir.at("dst"))
        target.partSize = 3
        #expect(throws: TransferError.self) {
            try target.sync(
                paths: nil, moves: [:], source: SourceDirectory(root: dir.at("src")), filter: try Filter(rules: []),
                delete: true, cancelled: { true })
        }
        #expect(TreeSnapshot(dir.at("dst")) == before)
        Self.expectNothingStaged(target)
    }
}
