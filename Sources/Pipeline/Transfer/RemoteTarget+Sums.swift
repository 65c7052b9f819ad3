import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension RemoteTarget {
    /// What block sums said of the plan's large files that the receiver has at the
    /// source's size: those it has byte for byte, and those edited in place (at most half
    /// their blocks differ), with the blocks to send. Both ends sum at once: the request
    /// goes first, ours are computed while the receiver computes its own. One round trip.
    func compareBlocks(_ plan: SyncPlan, source: any SourceTree, over c: RemoteConnection)
        throws -> BlockComparison
    {
        var candidates: [String] = []
        for case .copy(let path, let info) in plan.operations
        where plan.bases[path] == nil && info.size >= 1 << 20 && BlockSums.fits(info.size)
            && plan.basisInfo[path]?.size == info.size
        {
            candidates.append(path)
        }
        var result = BlockComparison()
        guard !candidates.isEmpty else { return result }
        let seed = deltas.seed(for: source.identity(candidates[0]))
        c.clock.step = "waiting for sums"
        try c.request(.sums(seed: seed, paths: candidates))
        // Ours from descriptors that did not change while they were read.
        let ours: [BlockSums?] = candidates.map { path in
            guard let content = try? source.open(path) else { return nil }
            let sums = deltas.sums(of: content, seed: seed)
            return content.heldStill() ? sums : nil
        }
        for (index, path) in candidates.enumerated() {
            let reply = try c.reader.receive()
            guard case .sum(index, let theirs) = reply else {
                throw WireError("expected the sums of file \(index), got \(reply.frameType)")
            }
            guard let theirs, let mine = ours[index], let differing = mine.differing(from: theirs) else { continue }
            let changed = differing.count { $0 }
            if changed == 0 && mine.whole == theirs.whole {
                result.same.insert(path)
            } else if changed * 2 <= differing.count {
                result.edited[path] = .init(blockLength: mine.blockLength, differing: differing)
            }
        }
        return result
    }

    /// The receiver's signatures of `paths` (those it has as regular files) under `seed`, in
    /// one round trip, each with the digest of its bytes. Each is held to the size its file
    /// was listed at (it may have grown a little since), so a receiver cannot make the
    /// sender hold more than the batch asked for.
    func fetchSignatures(_ paths: [String], listedSizes: [Int64], seed: UInt64, over c: RemoteConnection) throws
        -> [String: (signature: Signature, digest: StrongHash.Digest)]
    {
        guard !paths.isEmpty else { return [:] }
        c.clock.step = "waiting for signatures"
        try c.request(.signatures(seed: seed, paths: paths))
        var result: [String: (signature: Signature, digest: StrongHash.Digest)] = [:]
        var current: [UInt8] = []
        var done = 0
        while done < paths.count {
            let message = try c.reader.receive()
            switch message {
            case .signatureData(done, let bytes):
                current += bytes
                let limit = Self.signatureLimit(listedSize: listedSizes[done])
                guard current.count <= limit else {
                    throw WireError("the signature of \(paths[done]) passed \(limit) bytes, too large for its file")
                }
            case .signatureEnd(done, let present):
                if present {
                    let reader = ByteReader(bytes: current, name: "signature of \(paths[done])")
                    // A signature that does not parse is the receiver's fault, as a bad frame is.
                    do throws(DeltaError) {
                        let digest = current.withUnsafeBytes { StrongHash.digest($0, seed: 0) }
                        result[paths[done]] = (try Signature.read(from: reader), digest)
                    } catch {
                        throw WireError("the signature of \(paths[done]): \(error.message)")
                    }
                }
                current = []
                done += 1
            case .signatureData(let index, _), .signatureEnd(let index, _):
                throw WireError("the receiver sent signature \(index) where \(done) was due")
            default:
                throw WireError("expected signatures, got \(message.frameType)")
            }
        }
        return result
    }

    /// The largest signature of a file listed at `listedSize` bytes: the shortest blocks a
    /// receiver makes (128 bytes) with the longest sums, for twice the size and 1 MiB more.
    static func signatureLimit(listedSize: Int64) -> Int {
        let size = min(DeltaLimits.maxFileSize, 2 * max(0, listedSize) + (1 << 20))
        return 64 + Int(size / 128 + 1) * (4 + DeltaLimits.strongLengthRange.upperBound)
    }
}

/// Large files the receiver has at the source's size, sorted by their block sums.
struct BlockComparison {
    /// Changed in place: the blocks that differ, the rest are copies where they are.
    struct Edit {
        let blockLength: Int
        let differing: [Bool]
    }

    /// The same bytes: only their times (or mode) go.
    var same = Set<String>()
    /// Edited in place: a delta of their changed blocks goes, with no signature.
    var edited: [String: Edit] = [:]
}
