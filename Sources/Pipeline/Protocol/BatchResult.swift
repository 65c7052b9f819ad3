/// How a batch ended at a receiver: the RESULT message.
struct BatchResult: Equatable {
    /// The result code, the same on both ends.
    enum Status: UInt8 {
        /// Committed, and it changed something.
        case applied = 0
        /// Committed; nothing needed changing.
        case unchanged = 1
        /// The commit failed and was rolled back.
        case rolledBack = 2
        /// Committed, then an action refused it, and the old files are back.
        case rejectedByAction = 3
    }

    /// The BATCH it answers: a result for another is a lie, or a stale answer.
    var batch: UInt64
    var status: Status
    var written = 0
    var deleted = 0
    /// Why, for `rolledBack` and `rejectedByAction`.
    var message = ""
    /// What the module's post-sync actions did, in order.
    var actions: [ActionResult] = []

    func encode(_ b: inout PayloadBuilder) {
        b.u64(batch)
        b.u8(status.rawValue)
        b.varint(UInt64(written))
        b.varint(UInt64(deleted))
        b.string(String(message.prefix(1000)))
        b.varint(UInt64(actions.count))
        for a in actions { a.encode(&b) }
    }

    static func decode(_ r: inout PayloadReader) throws(WireError) -> BatchResult {
        let batch = try r.u64()
        let code = try r.u8()
        guard let status = Status(rawValue: code) else { throw WireError("unknown result status \(code)") }
        var result = BatchResult(batch: batch, status: status)
        result.written = Int(clamping: try r.varint())
        result.deleted = Int(clamping: try r.varint())
        result.message = try r.string(limit: 4096)
        let count = try r.varint()
        guard count <= UInt64(WireMessage.maxActions) else {
            throw WireError("\(count) action results is over the limit")
        }
        for _ in 0..<count { result.actions.append(try ActionResult.decode(&r)) }
        return result
    }
}
