import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import Pipeline

/// `--dry-run`'s diffs, checked against the real `patch`: applied to the old text with no
/// fuzz, each must give the new text exactly.
@Suite struct UnifiedDiffTests {
    /// Applies `diff` to `old` with patch(1) and returns the result.
    static func patched(_ old: String, _ diff: String, in dir: TemporaryDirectory) throws -> String {
        let basis = try dir.write("old", old)
        let patchFile = try dir.write("diff", diff)
        let patch = try sh("patch --quiet --fuzz=0 -o '\(dir.at("out"))' '\(basis)' '\(patchFile)'", in: dir.path)
        #expect(patch.status == 0, "patch refused:\n\(diff)\n\(patch.output)")
        return try String(contentsOfFile: dir.at("out"), encoding: .utf8)
    }

    @Test func randomEditsApplyWithPatch() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Few distinct lines, so that matches are many and ambiguous.
        let words = ["a", "b", "c", "[www]", "pm = static", "", "x"]
        let lines = Gen.int(in: 0...6).array(of: 0...40)
        await propertyCheck(count: 100, input: lines, lines, Gen.int(in: 0...3)) { old, new, ends in
            // `ends` drops the last newline of neither, the old, the new or both.
            var (a, b) = (old.map { words[$0] + "\n" }.joined(), new.map { words[$0] + "\n" }.joined())
            if ends & 1 != 0, a.hasSuffix("x\n") { a.removeLast() }
            if ends & 2 != 0, b.hasSuffix("x\n") { b.removeLast() }
            guard let diff = UnifiedDiff.diff(Array(a.utf8), Array(b.utf8), oldName: "old", newName: "new") else {
                #expect(a == b)
                return
            }
            failOnThrow {
                let out = try Self.patched(a, diff, in: dir)
                #expect(out == b)
            }
        }
    }

    @Test func aOneLineChangeShowsThreeLinesOfContextEachSide() {
        let old = (1...20).map { "line \($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "line 10\n", with: "line ten\n")
        let diff = UnifiedDiff.diff(Array(old.utf8), Array(new.utf8), oldName: "a", newName: "b")
        #expect(
            diff
                == "--- a\n+++ b\n@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+line ten\n line 11\n line 12\n line 13\n"
        )
    }
}
