import RunnerSystem

/// One entry of a receiver's listing, as it crosses the wire.
struct WireEntry: Equatable {
    var path: String
    var info: FileInfo
    var link: String?

    func encode(_ b: inout PayloadBuilder) {
        b.string(path)
        b.u8(WireEntry.code(info.kind))
        b.u32(info.mode)
        WireMessage.encodeOwner(&b, info)
        b.u64(UInt64(max(0, info.size)))
        b.i64(Int64(info.mtimeSeconds))
        b.u32(UInt32(truncatingIfNeeded: info.mtimeNanoseconds))
        b.string(link ?? "")
    }

    static func decode(_ r: inout PayloadReader) throws(WireError) -> WireEntry {
        let path = try r.string()
        let kind: FileInfo.Kind
        switch try r.u8() {
        case 0: kind = .file
        case 1: kind = .directory
        case 2: kind = .symlink
        default: kind = .other
        }
        let mode = try r.u32() & 0o7777
        let (uid, gid) = try WireMessage.decodeOwner(&r)
        let size = Int64(clamping: try r.u64())
        let seconds = Int(try r.i64())
        let nanoseconds = Int(try r.u32() % 1_000_000_000)
        let link = try r.string()
        return WireEntry(
            path: path,
            info: FileInfo(
                kind: kind, mode: mode, size: size, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds, uid: uid,
                gid: gid),
            link: kind == .symlink ? link : nil)
    }

    static func code(_ kind: FileInfo.Kind) -> UInt8 {
        switch kind {
        case .file: return 0
        case .directory: return 1
        case .symlink: return 2
        case .other: return 3
        }
    }
}
