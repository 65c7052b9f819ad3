import ArgumentParser
import Pipeline

extension Runner {
    /// `runner delta signature|delta|patch`: the delta engine on files, like rdiff.
    struct Delta: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The delta engine on files, like rdiff ('-' is standard input or output).",
            subcommands: [SignatureCommand.self, DeltaCommand.self, PatchCommand.self])

        struct SignatureCommand: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "signature", abstract: "Write the signature of BASIS to SIG.")
            @Argument(help: "The basis file.") var basis: String
            @Argument(help: "Where to write the signature.") var signature: String
            @Option(help: "Block length in bytes (default: about the square root of the file size).") var blockLength:
                Int?

            func validate() throws {
                if let b = blockLength, !(1...DeltaLimits.maxBlockLength).contains(b) {
                    throw ValidationError("--block-length must be 1...\(DeltaLimits.maxBlockLength)")
                }
            }

            func run() throws {
                try reportingErrors {
                    try DeltaFiles.signature(basis: basis, output: signature, blockLength: blockLength)
                }
            }
        }

        struct DeltaCommand: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "delta", abstract: "Write the delta of NEW against SIG to DELTA.")
            @Argument(help: "The basis's signature.") var signature: String
            @Argument(help: "The new file.") var new: String
            @Argument(help: "Where to write the delta.") var delta: String
            @Flag(help: "Print what the delta holds on stderr.") var stats = false

            func run() throws {
                try reportingErrors {
                    let s = try DeltaFiles.delta(signature: signature, new: new, output: delta)
                    if stats {
                        Output.err(
                            "new \(s.newSize) bytes: copied \(s.copiedBytes), literal \(s.literalBytes) (stored \(s.storedLiteralBytes)), delta \(s.deltaBytes) bytes\n"
                        )
                    }
                }
            }
        }

        struct PatchCommand: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "patch", abstract: "Rebuild OUT from BASIS and DELTA, verified.")
            @Argument(help: "The basis file.") var basis: String
            @Argument(help: "The delta.") var delta: String
            @Argument(help: "Where to write the rebuilt file.") var output: String

            func run() throws {
                try reportingErrors {
                    try DeltaFiles.patch(basis: basis, delta: delta, output: output)
                }
            }
        }
    }
}
