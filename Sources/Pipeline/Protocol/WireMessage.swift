import RunnerSystem

/// Every message of the wire protocol, the one description both ends use: each case's
/// encoding is below beside its decoding (`WireMessage+Decode.swift`), so they cannot
/// drift apart. A frame carries one message; its type byte is `frameType`.
enum WireMessage: Equatable {
    /// Sender → receiver, first: protocol version, the largest frame it accepts, the
    /// module it wants, the user it authenticates as, and its leader's fencing token (the
    /// leader key's create_revision in etcd; 0 for a sender without coordination).
    case hello(version: UInt32, maxFrame: Int, module: String, user: String, token: UInt64)
    /// Receiver → sender: the session is open with these limits.
    case welcome(version: UInt32, maxFrame: Int, maxPath: Int)
    /// Either way: a refusal or failure, in words; the session ends.
    case error(String)
    /// Sender → receiver: the session ends cleanly.
    case bye
    /// Receiver → sender: a fresh 32-byte nonce to answer (`AuthProof`).
    case challenge(nonce: [UInt8])
    /// Sender → receiver: the 32-byte answer.
    case auth(proof: [UInt8])
    /// Receiver → sender, first on a connection the receiver dialed: the protocol version,
    /// the sender's pipeline it wants, the name it claims and its module there, whether it
    /// wants only to be brought to its approved revision (`runner pull --once`: the sender
    /// then ends the session, with BYE or the reason), and a fresh 32-byte nonce the sender
    /// must answer first (`AuthProof.dial`).
    case dial(version: UInt32, pipeline: String, name: String, module: String, once: Bool, nonce: [UInt8])
    /// Sender → receiver: its answer to the dialer's nonce, and a nonce of its own that the
    /// dialer answers with AUTH. Then the session goes on as one the sender opened: HELLO.
    case dialProof(proof: [UInt8], nonce: [UInt8])
    /// Sender → receiver: list these paths (their ancestors, and what is below them).
    case scan(paths: [String])
    /// Receiver → sender: one entry of the listing.
    case entry(WireEntry)
    /// Receiver → sender: the listing is complete (of a scan, or of one directory of a LIST).
    case scanEnd
    /// Sender → receiver: list each of these directories: its own entry, then the entries
    /// directly in it, then SCAN_END (only SCAN_END when there is nothing there).
    case list(paths: [String])
    /// Sender → receiver: the signatures of these files, in order, their strong sums under
    /// `seed` (the sender's, so that hosts holding the same file send the same signature).
    case signatures(seed: UInt64, paths: [String])
    /// Receiver → sender: a piece of signature number `index`.
    case signatureData(index: Int, bytes: [UInt8])
    /// Receiver → sender: signature number `index` is complete (`present` false: no such file).
    case signatureEnd(index: Int, present: Bool)
    /// Sender → receiver: a batch begins.
    case batch(id: UInt64)
    /// A directory with its mode and times.
    case directory(path: String, info: FileInfo)
    /// Only the mode and times of an entry change.
    case attributes(path: String, info: FileInfo)
    /// A file follows as DATA frames: a delta against the receiver's copy (`hasBasis`), or whole.
    case file(path: String, info: FileInfo, hasBasis: Bool)
    /// A piece of the current file's delta.
    case data([UInt8])
    /// The current file is complete; `keep` false: it changed while it was read, discard it.
    case fileEnd(keep: Bool)
    /// A symlink, and its modification time.
    case symlink(path: String, destination: String, info: FileInfo)
    /// The path and what is below it go.
    case delete(path: String)
    /// Sender → receiver: the block sums of each of `paths` under `seed` (large files of
    /// the source's size there: unchanged ones are not sent, edited ones send their
    /// changed blocks).
    case sums(seed: UInt64, paths: [String])
    /// Receiver → sender: path `index`'s block sums; nil when it is not a regular file there.
    case sum(index: Int, sums: BlockSums?)
    /// In a batch: `path` was moved from `from` in the source (its mode and times in
    /// `info`). Unless a FILE for `path` follows (a delta against the receiver's `from`),
    /// the receiver's file at `from` becomes `path`, renamed in the commit.
    case moved(path: String, from: String, info: FileInfo)
    /// Sender → receiver: apply the batch.
    case commit
    /// Receiver → sender: what the batch did.
    case result(BatchResult)
    /// Receiver → sender, instead of a result: send these files again whole, then COMMIT.
    case redo(paths: [String])
    /// Either way, before the first entry that has one of these ids: their names.
    case owners(OwnerNames)
    /// Sender → receiver: describe the module's post-sync actions (`--dry-run`).
    case actions
    /// Receiver → sender: one line per action.
    case actionList([String])
    /// Sender → receiver: the content of these files (for `--dry-run`'s diffs).
    case read(paths: [String])
    /// Receiver → sender: file number `index`: absent, present with its bytes, or larger
    /// than `maxContent` (no bytes).
    case content(index: Int, state: ContentState, bytes: [UInt8])

    /// What `content` says of a file.
    enum ContentState: UInt8 { case absent = 0, present = 1, tooLarge = 2 }

    /// The largest file `content` carries.
    static let maxContent = 256 * 1024

    /// The largest count a list in a message may have: paths of a scan, a signature
    /// request or a redo.
    static let maxPaths = 100_000
    /// The largest count of actions (and their results) a module has.
    static let maxActions = 1000

    var frameType: FrameType {
        switch self {
        case .hello: return .hello
        case .welcome: return .welcome
        case .error: return .error
        case .bye: return .bye
        case .challenge: return .challenge
        case .auth: return .auth
        case .dial: return .dial
        case .dialProof: return .dialProof
        case .scan: return .scan
        case .entry: return .entry
        case .scanEnd: return .scanEnd
        case .list: return .list
        case .signatures: return .signatures
        case .signatureData: return .signatureData
        case .signatureEnd: return .signatureEnd
        case .batch: return .batch
        case .directory: return .directory
        case .attributes: return .attributes
        case .file: return .file
        case .data: return .data
        case .fileEnd: return .fileEnd
        case .symlink: return .symlink
        case .delete: return .delete
        case .sums: return .sums
        case .sum: return .sum
        case .moved: return .moved
        case .commit: return .commit
        case .result: return .result
        case .redo: return .redo
        case .actions: return .actions
        case .actionList: return .actionList
        case .read: return .read
        case .content: return .content
        case .owners: return .owners
        }
    }

    /// The magic at the start of a hello: "RNRP".
    static let magic: UInt32 = 0x5052_4E52

    func encode(_ b: inout PayloadBuilder) {
        switch self {
        case let .hello(version, maxFrame, module, user, token):
            b.u32(WireMessage.magic)
            b.u32(version)
            b.u32(UInt32(maxFrame))
            b.string(module)
            b.string(user)
            b.u64(token)
        case let .welcome(version, maxFrame, maxPath):
            b.u32(version)
            b.u32(UInt32(maxFrame))
            b.u32(UInt32(maxPath))
        case .error(let message): b.string(String(message.prefix(1000)))
        case .bye, .scanEnd, .commit, .actions: break
        case .challenge(let bytes), .auth(let bytes), .data(let bytes): b.append(bytes)
        case let .dial(version, pipeline, name, module, once, nonce):
            b.u32(WireMessage.magic)
            b.u32(version)
            b.string(pipeline)
            b.string(name)
            b.string(module)
            b.u8(once ? 1 : 0)
            b.append(nonce)
        case let .dialProof(proof, nonce):
            b.append(proof)
            b.append(nonce)
        case .scan(let paths), .list(let paths), .redo(let paths), .actionList(let paths),
            .read(let paths):
            b.varint(UInt64(paths.count))
            for p in paths { b.string(p) }
        case .entry(let entry): entry.encode(&b)
        case let .signatureData(index, bytes):
            b.varint(UInt64(index))
            b.append(bytes)
        case let .signatureEnd(index, present):
            b.varint(UInt64(index))
            b.u8(present ? 1 : 0)
        case .batch(let id): b.u64(id)
        case let .directory(path, info), let .attributes(path, info):
            b.string(path)
            WireMessage.encodeModeAndTimes(&b, info)
        case let .file(path, info, hasBasis):
            b.string(path)
            WireMessage.encodeModeAndTimes(&b, info)
            b.u8(hasBasis ? 1 : 0)
        case .fileEnd(let keep): b.u8(keep ? 1 : 0)
        case let .symlink(path, destination, info):
            b.string(path)
            b.string(destination)
            b.i64(Int64(info.mtimeSeconds))
            b.u32(UInt32(info.mtimeNanoseconds))
            WireMessage.encodeOwner(&b, info)
        case .delete(let path): b.string(path)
        case let .sums(seed, paths), let .signatures(seed, paths):
            b.u64(seed)
            b.varint(UInt64(paths.count))
            for p in paths { b.string(p) }
        case let .sum(index, sums):
            b.varint(UInt64(index))
            b.u8(sums == nil ? 0 : 1)
            if let sums {
                b.varint(UInt64(sums.blockLength))
                b.append(sums.whole)
                b.append(sums.bytes)
            }
        case let .moved(path, from, info):
            b.string(path)
            b.string(from)
            WireMessage.encodeModeAndTimes(&b, info)
        case .result(let result): result.encode(&b)
        case .owners(let names): names.encode(&b)
        case let .content(index, state, bytes):
            b.varint(UInt64(index))
            b.u8(state.rawValue)
            b.append(bytes)
        }
    }

    static func encodeModeAndTimes(_ b: inout PayloadBuilder, _ info: FileInfo) {
        b.u32(info.mode)
        b.i64(Int64(info.mtimeSeconds))
        b.u32(UInt32(info.mtimeNanoseconds))
        encodeOwner(&b, info)
    }

    /// An entry's owner ids (`FileInfo.unchanged`: this end does not set it).
    static func encodeOwner(_ b: inout PayloadBuilder, _ info: FileInfo) {
        b.varint(UInt64(info.uid))
        b.varint(UInt64(info.gid))
    }

    static func decodeOwner(_ r: inout PayloadReader) throws(WireError) -> (uid: UInt32, gid: UInt32) {
        let uid = try r.varint(), gid = try r.varint()
        guard uid <= UInt64(FileInfo.unchanged), gid <= UInt64(FileInfo.unchanged) else {
            throw WireError("owner \(uid):\(gid) is out of range")
        }
        return (UInt32(uid), UInt32(gid))
    }
}
