import RunnerSystem

#if canImport(Glibc)
    import Glibc
#endif

extension RemoteTarget {
    /// Files of the plan whose bytes the receiver has already: those the listing shows with
    /// the source's size (1 MiB or more: smaller ones are compared by the receiver), whose
    /// whole-file sums, under a seed fresh for the request, agree. One round trip.
    func sameBytes(_ plan: SyncPlan, listing: RemoteListing, source: SourceTree, over c: RemoteConnection)
        throws -> Set<String>
    {
        var candidates: [String] = []
        for case .copy(let path, let info) in plan.operations
        where plan.bases[path] == nil && info.size >= 1 << 20 && listing.info(path)?.size == info.size {
            candidates.append(path)
        }
        guard !candidates.isEmpty else { return [] }
        let seed = StrongHash.randomSeed()
        c.clock.step = "waiting for sums"
        try c.request(.sums(seed: seed, paths: candidates))
        var same = Set<String>()
        for (index, path) in candidates.enumerated() {
            let reply = try c.reader.receive()
            guard case .sum(index, let theirs) = reply else {
                throw WireError("expected the sum of file \(index), got \(reply.frameType)")
            }
            // Ours from a descriptor that did not change while it was read.
            guard let theirs, let file = try? FileDescriptor(opening: source.contentPath(path), O_RDONLY | O_NOFOLLOW)
            else { continue }
            var before = stat(), after = stat()
            fstat(file.raw, &before)
            let ours = StrongHash.digest(of: file.raw, seed: seed)
            fstat(file.raw, &after)
            if FileInfo(before) == FileInfo(after), ours?.bytes == theirs { same.insert(path) }
        }
        return same
    }

    /// The receiver's signatures of `paths` (those it has as regular files), in one round trip.
    func fetchSignatures(_ paths: [String], over c: RemoteConnection) throws -> [String: Signature] {
        guard !paths.isEmpty else { return [:] }
        c.clock.step = "waiting for signatures"
        try c.request(.signatures(paths: paths))
        var result: [String: Signature] = [:]
        var current: [UInt8] = []
        var done = 0
        while done < paths.count {
            let message = try c.reader.receive()
            switch message {
            case .signatureData(let index, let bytes):
                guard index == done else { throw WireError("signature \(index) out of order") }
                current += bytes
                guard current.count <= 64 << 20 else { throw WireError("signature larger than 64 MiB") }
            case .signatureEnd(let index, let present):
                guard index == done else { throw WireError("signature \(index) out of order") }
                if present {
                    let bytes = current
                    var offset = 0
                    let reader = ByteReader(name: "signature of \(paths[index])") { (into) throws(DeltaError) in
                        let n = min(into.count, bytes.count - offset)
                        bytes.withUnsafeBytes {
                            into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)]))
                        }
                        offset += n
                        return n
                    }
                    result[paths[index]] = try Signature.read(from: reader)
                }
                current = []
                done += 1
            default:
                throw WireError("expected signatures, got \(message.frameType)")
            }
        }
        return result
    }
}
