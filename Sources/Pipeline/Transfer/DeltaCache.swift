import RunnerSystem
import Synchronization

/// What the hosts of a pipeline share while a revision goes out: one delta per file and
/// basis, made once and sent as the same bytes to every host that holds that basis (as
/// rsync's batch mode does for identical hosts), the source's block sums of a file, and
/// the zstd contexts that make deltas. A host whose content differs (a rendered overlay, a
/// host that was away) has another basis, and so its own delta. Only immutable content (a
/// stored revision) is shared: a live directory's files can change between two hosts.
///
/// Trusts nothing the hosts say: a basis is named by what the host sent (its signature's
/// digest, or which of its blocks differ), so a host can at most be given a delta made for
/// a basis it claimed; the whole-file check at its end catches a delta that rebuilt
/// something else.
public final class DeltaCache: Sendable {
    /// What a delta was made against at the host.
    enum Basis: Hashable, Sendable {
        /// Nothing: the file goes whole.
        case none
        /// The host's signature, by the digest of its bytes.
        case signature(StrongHash.Digest)
        /// The host's file of the same size, of which these blocks differ.
        case blocks(length: Int, differing: [Bool])
    }

    /// A delta, made: its bytes and figures.
    struct Made: Sendable {
        let bytes: [UInt8]
        let stats: DeltaStats
    }

    private struct DeltaKey: Hashable, Sendable {
        let content: String
        let basis: Basis
    }

    /// Files up to this size have their delta made in memory and shared; larger ones are
    /// streamed to each host.
    static let sharedFileLimit: Int64 = 16 << 20

    private let deltas: SingleFlight<DeltaKey, Made>
    private let sums = SingleFlight<String, BlockSums?>(limit: 8 << 20) { ($0?.bytes.count ?? 0) + 64 }
    private let seeds = SingleFlight<String, UInt64>(limit: 1 << 16) { _ in 1 }
    private let compressors = Mutex<[LiteralCompressor]>([])
    private let made = Atomic<Int>(0)

    /// Shared deltas whose bytes add up to at most `limit` are kept.
    public init(limit: Int = 32 << 20) {
        deltas = SingleFlight(limit: limit) { $0.bytes.count + 64 }
    }

    /// The seed the hosts' sums and signatures of a basis for `content` are asked under:
    /// fresh for each new content, the same for every host asked for it (so that identical
    /// hosts answer identically); a live file's is fresh each time.
    func seed(for content: String?) -> UInt64 {
        guard let content else { return StrongHash.randomSeed() }
        return seeds.value(content) { StrongHash.randomSeed() }
    }

    /// The block sums of `content` (open, at offset 0) under `seed`: made once per stored content.
    func sums(of content: borrowing SourceContent, seed: UInt64) -> BlockSums? {
        guard let identity = content.identity else { return BlockSums.of(content.file.raw, seed: seed) }
        let fd = content.file.raw
        return sums.value("\(identity) \(seed)") { BlockSums.of(fd, seed: seed) }
    }

    /// The delta of `content` against `basis`: made by `make` once per stored content and
    /// basis (it writes the delta to the writer it is given, and returns its figures), then
    /// the same bytes for every host that asks. Nil for content that is not shared (live,
    /// or too large): the caller streams its own.
    func delta(
        of content: borrowing SourceContent, against basis: Basis,
        make: (ByteWriter, LiteralCompressor) throws(DeltaError) -> DeltaStats
    ) throws(DeltaError) -> Made? {
        guard let identity = content.identity, content.info.size <= Self.sharedFileLimit else { return nil }
        let name = content.shown
        return try deltas.value(DeltaKey(content: identity, basis: basis)) { () throws(DeltaError) in
            made.add(1, ordering: .relaxed)
            var bytes: [UInt8] = []
            let writer = ByteWriter(name: "delta of \(name)", capacity: 1 << 16) { bytes += $0 }
            let stats = try withCompressor { (compressor) throws(DeltaError) in try make(writer, compressor) }
            try writer.flush()
            return Made(bytes: bytes, stats: stats)
        }
    }

    /// Runs `body` with a zstd context of the pool (one per thread making a delta at once,
    /// not one per host).
    func withCompressor<T, E: Error>(_ body: (LiteralCompressor) throws(E) -> T) throws(E) -> T {
        let compressor = compressors.withLock { $0.popLast() } ?? LiteralCompressor()
        defer { compressors.withLock { if $0.count < 4 { $0.append(compressor) } } }
        return try body(compressor)
    }

    /// Shared deltas made so far, and the bytes of those kept (for tests).
    var deltasMade: Int { made.load(ordering: .relaxed) }
    var keptBytes: Int { deltas.keptCost }
}
