import Foundation
import Logging
import LuaBridge
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

    /// The samples shipped as examples load as they are: no environment lookups, no key the
    /// schema lacks (runner check of receiver.lua also wants its php-fpm running).
    @Test(arguments: ["local.lua", "php_env.lua", "receiver.lua"])
    func theSamplesLoadAsTheyAre(_ sample: String) throws {
        let file = RunnerProcess.packageRoot + "/samples/" + sample
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.contains("os.getenv"), "\(sample) reads the environment")
        let loader = ConfigLoader(
            file: file, logger: Logger(label: "test"), pluginDirectories: [RunnerProcess.packageRoot + "/plugins"])
        let configuration = try loader.load().0
        #expect(!configuration.pipelines.isEmpty || !configuration.modules.isEmpty)
    }
}
