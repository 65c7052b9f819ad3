import RunnerSystem

/// One directory of a revision's manifest: its entries by name, sorted. A manifest is a tree
/// of these, each stored by its hash as git stores trees: a revision that changes one file
/// stores the file's directory and its ancestors anew and shares every other directory with
/// its parent. A directory of more than `chunkLimit` entries is stored as chunks cut where an
/// entry's name says so (`isBoundary`), plus an index of them, so that one change in a flat
/// directory of a million files stores one chunk of about a thousand entries, not the lot.
struct TreeObject: Equatable, Sendable {
    private(set) var names: [String] = []
    private(set) var entries: [TreeEntry] = []

    /// Entries a directory holds before it is stored in chunks.
    static let chunkLimit = 4096

    var count: Int { names.count }
    var isEmpty: Bool { names.isEmpty }

    /// The entry named `name`, or nil; set nil to remove it.
    subscript(name: String) -> TreeEntry? {
        get { position(of: name).found.map { entries[$0] } }
        set {
            let (found, insertAt) = position(of: name)
            switch (found, newValue) {
            case (let i?, let entry?): entries[i] = entry
            case (let i?, nil):
                names.remove(at: i)
                entries.remove(at: i)
            case (nil, let entry?):
                names.insert(name, at: insertAt)
                entries.insert(entry, at: insertAt)
            case (nil, nil): break
            }
        }
    }

    /// Appends an entry named after every entry so far (the names come sorted).
    mutating func append(_ name: String, _ entry: TreeEntry) {
        precondition(names.last.map { $0 < name } ?? true, "tree entries out of order")
        names.append(name)
        entries.append(entry)
    }

    private func position(of name: String) -> (found: Int?, insertAt: Int) {
        var low = 0, high = names.count
        while low < high {
            let mid = (low + high) / 2
            if names[mid] < name { low = mid + 1 } else { high = mid }
        }
        return (low < names.count && names[low] == name ? low : nil, low)
    }

    // MARK: - Encoding

    /// Entries with their owners; "T" objects (stored before owners) read with none.
    private static let entriesTag: UInt8 = 0x4F  // "O"
    private static let ownerlessTag: UInt8 = 0x54  // "T"
    private static let indexTag: UInt8 = 0x49  // "I"

    /// One stored object of a directory: its entries, or the index of its chunks.
    enum Stored {
        case entries(TreeObject)
        case index([(first: String, hash: ContentHash, count: Int)])
    }

    /// The directory's entries in `range`, as one object.
    func encode(_ range: Range<Int>) -> [UInt8] {
        var b = PayloadBuilder()
        b.reserve(8 + range.count * 48)
        b.u8(Self.entriesTag)
        b.varint(UInt64(range.count))
        for i in range {
            let e = entries[i]
            b.string(names[i])
            b.u8(e.kind.rawValue)
            b.varint(UInt64(e.mode))
            b.varint(UInt64(e.uid))
            b.varint(UInt64(e.gid))
            b.varint(UInt64(max(0, e.size)))
            b.i64(Int64(e.mtimeSeconds))
            b.u32(UInt32(truncatingIfNeeded: e.mtimeNanoseconds))
            switch e.kind {
            case .file, .directory: b.hash(e.hash)
            case .symlink: b.string(e.link)
            }
        }
        return b.bytes
    }

    /// The index of a chunked directory.
    static func encodeIndex(_ chunks: [(first: String, hash: ContentHash, count: Int)]) -> [UInt8] {
        var b = PayloadBuilder()
        b.u8(indexTag)
        b.varint(UInt64(chunks.count))
        for c in chunks {
            b.string(c.first)
            b.hash(c.hash)
            b.varint(UInt64(c.count))
        }
        return b.bytes
    }

    /// Where the directory's chunks end (each range's upper bound): after an entry whose
    /// name hashes to a multiple of 1024, or after 16,384 entries. A boundary depends only
    /// on the entry's own name, so an insertion or a removal moves no other chunk's edges.
    func chunkRanges() -> [Range<Int>] {
        guard count > Self.chunkLimit else { return [0..<count] }
        var ranges: [Range<Int>] = []
        var start = 0
        for i in 0..<count where Self.isBoundary(names[i]) || i + 1 - start >= 16_384 || i == count - 1 {
            ranges.append(start..<(i + 1))
            start = i + 1
        }
        return ranges
    }

    private static func isBoundary(_ name: String) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h & 1023 == 0
    }

    /// The objects a stored directory points at, read without its names (a collection reads
    /// the trees of every kept revision): its chunks and subdirectories, and its files.
    static func references(_ bytes: [UInt8], shown: String) throws(SystemError) -> (
        trees: [ContentHash], files: [ContentHash]
    ) {
        var r = PayloadReader(bytes)
        var trees: [ContentHash] = [], files: [ContentHash] = []
        do throws(WireError) {
            let tag = try r.u8()
            let count = try r.varint()
            guard count <= UInt64(r.remaining), tag == indexTag || tag == entriesTag || tag == ownerlessTag else {
                throw WireError("tag \(tag), \(count) entries in \(r.remaining) bytes")
            }
            for _ in 0..<count {
                _ = try r.slice(Int(try r.varint()))  // the name
                if tag == indexTag {
                    trees.append(ContentHash(bytes: try r.bytes16()))
                    _ = try r.varint()
                    continue
                }
                let kind = TreeEntry.Kind(rawValue: try r.u8())
                if tag == entriesTag { _ = (try r.varint(), try r.varint()) }  // owner
                _ = (try r.varint(), try r.varint(), try r.i64(), try r.u32())  // mode, size, mtime
                switch kind {
                case .file: files.append(ContentHash(bytes: try r.bytes16()))
                case .directory: trees.append(ContentHash(bytes: try r.bytes16()))
                case .symlink: _ = try r.slice(Int(try r.varint()))
                case nil: throw WireError("an unknown kind of entry")
                }
            }
            try r.end()
        } catch {
            throw SystemError("read (a corrupt tree object: \(error.message))", path: shown, code: nil)
        }
        return (trees, files)
    }

    /// An object as stored; `shown` names it in errors.
    static func decode(_ bytes: [UInt8], shown: String) throws(SystemError) -> Stored {
        var r = PayloadReader(bytes)
        do throws(WireError) {
            let tag = try r.u8()
            let count = try r.varint()
            guard count <= UInt64(r.remaining) else { throw WireError("\(count) entries in \(r.remaining) bytes") }
            if tag == indexTag {
                var chunks: [(first: String, hash: ContentHash, count: Int)] = []
                for _ in 0..<count {
                    let first = try r.string()
                    let hash = ContentHash(bytes: try r.bytes16())
                    let n = try r.varint()
                    guard n > 0, n <= 1 << 24 else { throw WireError("a chunk of \(n) entries") }
                    chunks.append((first, hash, Int(n)))
                }
                try r.end()
                return .index(chunks)
            }
            guard tag == entriesTag || tag == ownerlessTag else { throw WireError("unknown tag \(tag)") }
            var tree = TreeObject()
            for _ in 0..<count {
                let name = try r.string()
                guard let kind = TreeEntry.Kind(rawValue: try r.u8()), !name.isEmpty, !name.utf8.contains(0x2F),
                    name != ".", name != "..", tree.names.last.map({ $0 < name }) ?? true
                else { throw WireError("a bad entry '\(name)'") }
                let mode = UInt32(truncatingIfNeeded: try r.varint()) & 0o7777
                var uid = FileInfo.unchanged, gid = FileInfo.unchanged
                if tag == entriesTag {
                    uid = UInt32(truncatingIfNeeded: try r.varint())
                    gid = UInt32(truncatingIfNeeded: try r.varint())
                }
                let size = Int64(clamping: try r.varint())
                let seconds = Int(try r.i64())
                let nanoseconds = Int(try r.u32() % 1_000_000_000)
                var hash = ContentHash(high: 0, low: 0)
                var link = ""
                switch kind {
                case .file, .directory: hash = ContentHash(bytes: try r.bytes16())
                case .symlink: link = try r.string()
                }
                tree.append(
                    name,
                    TreeEntry(
                        kind: kind, mode: mode, size: size, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds,
                        hash: hash, link: link, uid: uid, gid: gid))
            }
            try r.end()
            return .entries(tree)
        } catch {
            throw SystemError("read (a corrupt tree object: \(error.message))", path: shown, code: nil)
        }
    }

    /// Joins a chunked directory's chunks, in order.
    mutating func appendChunk(_ chunk: TreeObject) throws(SystemError) {
        guard chunk.names.first.map({ first in names.last.map { $0 < first } ?? true }) ?? true else {
            throw SystemError("read (a tree object's chunks out of order)", path: chunk.names.first, code: nil)
        }
        names += chunk.names
        entries += chunk.entries
    }
}

extension PayloadBuilder {
    /// A hash's 16 bytes, as `ContentHash.bytes` orders them.
    fileprivate mutating func hash(_ h: ContentHash) {
        withUnsafeBytes(of: h.high.bigEndian) { raw($0) }
        withUnsafeBytes(of: h.low.bigEndian) { raw($0) }
    }
}

extension PayloadReader {
    /// 16 bytes (a hash).
    fileprivate mutating func bytes16() throws(WireError) -> ArraySlice<UInt8> { try slice(16) }
}
