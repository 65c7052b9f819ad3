import RunnerSystem

extension WireMessage {
    /// Decodes a frame's payload, checking every length and count against the protocol's
    /// limits before anything is allocated; a frame with bytes left over is refused.
    static func decode(_ type: FrameType, _ payload: [UInt8]) throws(WireError) -> WireMessage {
        var r = PayloadReader(payload)
        let message: WireMessage
        switch type {
        case .hello:
            guard try r.u32() == magic else { throw WireError("not a runner sender (bad magic)") }
            message = .hello(
                version: try r.u32(), maxFrame: Int(try r.u32()), module: try r.string(limit: 64),
                user: try r.string(limit: 64), token: try r.u64())
        case .welcome: message = .welcome(version: try r.u32(), maxFrame: Int(try r.u32()), maxPath: Int(try r.u32()))
        case .error: message = .error(try r.string())
        case .bye: message = .bye
        case .challenge: message = .challenge(nonce: try r.bytes(exactly: 32, what: "challenge"))
        case .auth: message = .auth(proof: try r.bytes(exactly: 32, what: "auth answer"))
        case .dial:
            guard try r.u32() == magic else { throw WireError("not a runner receiver (bad magic)") }
            message = .dial(
                version: try r.u32(), pipeline: try r.string(limit: 64), name: try r.string(limit: 64),
                module: try r.string(limit: 64), once: try r.u8() == 1,
                nonce: try r.bytes(exactly: 32, what: "dial nonce"))
        case .dialProof:
            let both = try r.bytes(exactly: 64, what: "dial proof")
            message = .dialProof(proof: Array(both[..<32]), nonce: Array(both[32...]))
        case .scan: message = .scan(paths: try decodeList(&r, what: "scan", limit: maxPaths))
        case .entry: message = .entry(try WireEntry.decode(&r))
        case .scanEnd: message = .scanEnd
        case .list: message = .list(paths: try decodeList(&r, what: "list", limit: maxPaths))
        case .signatures:
            let seed = try r.u64()
            message = .signatures(seed: seed, paths: try decodeList(&r, what: "signature request", limit: maxPaths))
        case .signatureData: message = .signatureData(index: try r.index(), bytes: Array(r.rest()))
        case .signatureEnd: message = .signatureEnd(index: try r.index(), present: try r.u8() == 1)
        case .batch: message = .batch(id: try r.u64())
        case .directory: message = .directory(path: try r.string(), info: try decodeModeAndTimes(&r, kind: .directory))
        case .attributes: message = .attributes(path: try r.string(), info: try decodeModeAndTimes(&r, kind: .file))
        case .file:
            message = .file(
                path: try r.string(), info: try decodeModeAndTimes(&r, kind: .file), hasBasis: try r.u8() == 1)
        case .data: message = .data(Array(r.rest()))
        case .fileEnd: message = .fileEnd(keep: try r.u8() == 1)
        case .symlink:
            let path = try r.string(), destination = try r.string()
            let seconds = Int(try r.i64()), nanoseconds = Int(try r.u32() % 1_000_000_000)
            let (uid, gid) = try decodeOwner(&r)
            message = .symlink(
                path: path, destination: destination,
                info: FileInfo(
                    kind: .symlink, mode: 0o777, size: 0, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds,
                    uid: uid, gid: gid))
        case .delete: message = .delete(path: try r.string())
        case .sums:
            let seed = try r.u64()
            message = .sums(seed: seed, paths: try decodeList(&r, what: "sum request", limit: maxPaths))
        case .sum:
            let index = try r.index()
            guard try r.u8() == 1 else {
                guard r.remaining == 0 else { throw WireError("malformed sum") }
                message = .sum(index: index, sums: nil)
                break
            }
            let length = try r.varint()
            guard length >= 32 << 10, length <= 1 << 20, length & (length - 1) == 0 else {
                throw WireError("block length \(length) of a sum is out of range")
            }
            // The whole-file sum (16 bytes), then 8 bytes per block.
            let rest = Array(r.rest())
            guard rest.count >= 16, (rest.count - 16) % 8 == 0, rest.count - 16 <= 8 * BlockSums.maxBlocks else {
                throw WireError("malformed block sums (\(rest.count) bytes)")
            }
            message = .sum(
                index: index,
                sums: BlockSums(blockLength: Int(length), bytes: Array(rest[16...]), whole: Array(rest[..<16])))
        case .moved:
            message = .moved(path: try r.string(), from: try r.string(), info: try decodeModeAndTimes(&r, kind: .file))
        case .commit: message = .commit
        case .result: message = .result(try BatchResult.decode(&r))
        case .redo: message = .redo(paths: try decodeList(&r, what: "redo", limit: maxPaths))
        case .actions: message = .actions
        case .read: message = .read(paths: try decodeList(&r, what: "read request", limit: maxPaths))
        case .content:
            let index = try r.index()
            guard let state = ContentState(rawValue: try r.u8()) else { throw WireError("unknown content state") }
            let bytes = Array(r.rest())
            guard bytes.count <= maxContent else {
                throw WireError("content of \(bytes.count) bytes is over the limit")
            }
            message = .content(index: index, state: state, bytes: bytes)
        case .owners: message = .owners(try OwnerNames.decode(&r))
        case .actionList:
            message = .actionList(try decodeList(&r, what: "action list", limit: maxActions, stringLimit: 4096))
        }
        try r.end()
        return message
    }

    private static func decodeList(
        _ r: inout PayloadReader, what: String, limit: Int,
        stringLimit: Int = WireLimits.maxString
    ) throws(WireError) -> [String] {
        let count = try r.varint()
        guard count <= UInt64(limit) else {
            throw WireError("\(what) of \(count) entries is over the limit of \(limit)")
        }
        var list: [String] = []
        for _ in 0..<count { list.append(try r.string(limit: stringLimit)) }
        return list
    }

    private static func decodeModeAndTimes(_ r: inout PayloadReader, kind: FileInfo.Kind) throws(WireError) -> FileInfo
    {
        let mode = try r.u32() & 0o7777
        let seconds = Int(try r.i64())
        let nanoseconds = Int(try r.u32() % 1_000_000_000)
        let (uid, gid) = try decodeOwner(&r)
        return FileInfo(
            kind: kind, mode: mode, size: 0, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds, uid: uid, gid: gid)
    }
}
