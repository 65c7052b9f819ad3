extension StateJournal.Line {
    /// The line as JSON, as `JSONDecoder` reads it back (nil fields left out). Written by
    /// hand: `JSONEncoder` took a quarter of what a change spends before it is sent, and a
    /// line is saved before every send.
    var json: [UInt8] {
        var o = JSONObject()
        o.field("group", group)
        if let g = groupState {
            var inner = JSONObject()
            inner.field("approved", g.approved)
            inner.field("halted", g.halted)
            inner.field("haltedWhy", g.haltedWhy)
            inner.field("held", g.held)
            inner.field("heldWhy", g.heldWhy)
            inner.field("released", g.released)
            inner.field("head", g.head)
            inner.field("admitted", g.admitted)
            inner.field("waiting", g.waiting)
            inner.field("waitingWhy", g.waitingWhy)
            o.field("groupState", object: inner)
        }
        o.field("head", head)
        o.field("host", host)
        if let h = hostState {
            var inner = JSONObject()
            inner.field("applied", h.applied)
            inner.field("refusal", h.refusal)
            inner.field("refused", h.refused)
            inner.field("renderKey", h.renderKey)
            inner.field("sending", h.sending)
            o.field("hostState", object: inner)
        }
        return o.closed
    }
}

/// A JSON object written field by field: integers and strings (escaped as RFC 8259 says).
private struct JSONObject {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]
    private static let hex = Array("0123456789abcdef".utf8)

    var closed: [UInt8] { bytes + [UInt8(ascii: "}")] }

    mutating func field(_ key: String, _ value: Int?) {
        guard let value else { return }
        name(key)
        bytes += String(value).utf8
    }

    mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        name(key)
        quoted(value)
    }

    mutating func field(_ key: String, object: JSONObject) {
        name(key)
        bytes += object.closed
    }

    private mutating func name(_ key: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        quoted(key)
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func quoted(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), b]
            case 0x0A: bytes += Array("\\n".utf8)
            case 0x0D: bytes += Array("\\r".utf8)
            case 0x09: bytes += Array("\\t".utf8)
            case ..<0x20: bytes += Array("\\u00".utf8) + [Self.hex[Int(b >> 4)], Self.hex[Int(b & 0xF)]]
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
