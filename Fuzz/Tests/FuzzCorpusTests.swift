import Foundation
import FuzzTargets
import Testing

/// Every seed of `Fuzz/corpus/` (the named cases, and each crash `make fuzz` found and kept)
/// through the parser it was made for, in a plain build: a fixed crash stays fixed.
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("corpus")

    @Test(arguments: FuzzTarget.allCases)
    func everySeedIsReadWithoutACrash(_ target: FuzzTarget) throws {
        let directory = Self.corpus.appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names.count >= 5, "Fuzz/corpus/\(target.rawValue) has \(names.count) seeds")
        for name in names {
            target.run(Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }
}
