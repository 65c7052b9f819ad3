import Foundation
import Pipeline
import TestSupport
import Testing

/// The key reference in docs/ is the schema the loader checks scripts against, word for word.
@Suite struct ConfigSchemaTests {
    @Test(arguments: ConfigSchema.Reference.allCases)
    func theReferenceInDocsIsTheSchemas(_ reference: ConfigSchema.Reference) throws {
        let path = RunnerProcess.packageRoot + "/" + reference.file
        let kept = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            kept == ConfigSchema.markdown(reference),
            "\(reference.file) differs from the schema: runner keys \(reference.rawValue) > \(reference.file)")
    }

    @Test func everyKeyHasADocAnExampleThatNamesItAndOneEntryPerName() {
        for table in ConfigSchema.pipelineTables + ConfigSchema.receiverTables {
            #expect(Set(table.names).count == table.names.count, "\(table.name) lists a key twice")
            for key in table.keys {
                #expect(!key.doc.isEmpty && key.example.hasPrefix(key.name + " = "), "\(table.name).\(key.name)")
            }
        }
    }
}
