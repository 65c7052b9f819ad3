import TestSupport

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// The delta format's parsers under fuzzing: signatures as a receiver sends them, deltas
/// as a sender sends them.
enum FuzzDelta {
    /// The basis every fuzzed delta is applied to, and the new file every fuzzed
    /// signature is matched against (it shares blocks with the basis).
    private static let basis = deterministicBytes(48 * 1024, seed: 1)
    private static let newFile = Array(basis[4096..<20480]) + deterministicBytes(8 * 1024, seed: 2)

    static func signature(_ input: [UInt8]) {
        guard let signature = try? Signature.read(from: ByteReader(bytes: input, name: "fuzz")) else { return }
        let encoder = DeltaEncoder(signature: signature, writer: discard(), seed: 7)
        do throws(DeltaError) {
            try encoder.encode(reading: ByteReader(bytes: newFile, name: "new"))
        } catch {
            preconditionFailure("a delta against an accepted signature failed: \(error.message)")
        }
    }

    /// The first byte chooses the output: streamed, or over a copy of the basis.
    static func delta(_ input: [UInt8]) {
        guard let mode = input.first else { return }
        let basisFD = memoryFile(basis)
        defer { close(basisFD) }
        let reader = ByteReader(bytes: Array(input.dropFirst()), name: "fuzz")
        if mode & 1 == 0 {
            _ = try? DeltaPatcher().apply(basis: basisFD, basisName: "basis", reading: reader, writingTo: discard())
        } else {
            let output = memoryFile(basis)
            defer { close(output) }
            _ = try? DeltaPatcher().apply(
                basis: basisFD, basisName: "basis", reading: reader, into: .overBasis(output, name: "output"))
        }
    }

    private static func discard() -> ByteWriter {
        ByteWriter(name: "discard", capacity: 4096) { (_) throws(DeltaError) in }
    }

    private static func memoryFile(_ bytes: [UInt8]) -> Int32 {
        var name = Array("/tmp/runner-fuzz-XXXXXX".utf8CString)
        let fd = mkstemp(&name)
        precondition(fd >= 0, "cannot make a file in /tmp")
        unlink(name)
        bytes.withUnsafeBytes { precondition(write(fd, $0.baseAddress, $0.count) == $0.count) }
        return fd
    }
}
