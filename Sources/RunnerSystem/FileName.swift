/// File names are bytes; Swift strings are Unicode. A name that is not valid UTF-8
/// (`caf\xe9.conf` from a Latin-1 editor) is carried in a `String` without loss: each
/// byte of an invalid sequence becomes one scalar of the private-use range
/// U+F780…U+F7FF (byte + 0xF700), and a valid name that itself holds a scalar of that
/// range has those bytes escaped the same way, so `encode(decode(b)) == b` for every `b`.
/// Every name read from the kernel or the wire is decoded here, and every path handed
/// back to the kernel or the wire is encoded here (`cPath`, `encode`); logs show the
/// escapes as `\xE9` (`display`).
public enum FileName {
    private static let escapes: ClosedRange<UInt32> = 0xF780...0xF7FF

    private static func isEscape(_ scalar: Unicode.Scalar) -> Bool { escapes.contains(scalar.value) }

    /// The name or path for these bytes.
    @inlinable
    public static func decode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        // Most names are ASCII: one pass, no validation (a receiver decodes every path of a batch).
        let ascii = bytes.withContiguousStorageIfAvailable { buffer -> String? in
            var any: UInt8 = 0
            for b in buffer { any |= b }
            return any < 0x80 ? String(decoding: buffer, as: UTF8.self) : nil
        }
        if case .some(.some(let text)) = ascii { return text }
        return decodeBytes(Array(bytes))
    }

    @usableFromInline
    static func decodeBytes(_ all: [UInt8]) -> String {
        // Escape scalars encode as EF 9E xx / EF 9F xx: without an 0xEF byte there is none.
        if !all.contains(0xEF), let text = String(validating: all, as: UTF8.self) { return text }
        var scalars = String.UnicodeScalarView()
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = all.makeIterator()
        var offset = 0
        func escape(_ count: Int) {
            for b in all[offset..<(offset + count)] { scalars.append(Unicode.Scalar(0xF700 + UInt32(b))!) }
        }
        parsing: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                let scalar = Unicode.UTF8.decode(encoded)
                if isEscape(scalar) { escape(encoded.count) } else { scalars.append(scalar) }
                offset += encoded.count
            case .error(let length):
                escape(length)
                offset += length
            case .emptyInput:
                break parsing
            }
        }
        return String(scalars)
    }

    /// The bytes of a name or path, as the kernel and the wire know them.
    public static func encode(_ text: String) -> [UInt8] {
        guard text.utf8.contains(0xEF) else { return Array(text.utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if isEscape(scalar) {
                bytes.append(UInt8(scalar.value - 0xF700))
            } else {
                bytes += String(scalar).utf8
            }
        }
        return bytes
    }

    /// How many bytes the name or path has on disk.
    public static func byteCount(_ text: Substring.UTF8View) -> Int {
        guard text.contains(0xEF) else { return text.count }
        return encode(String(Substring(text))).count
    }

    /// The text for a log line or a terminal: escaped bytes shown as `\xE9`.
    public static func display(_ text: String) -> String {
        guard text.utf8.contains(0xEF) else { return text }
        var shown = ""
        for scalar in text.unicodeScalars {
            if isEscape(scalar) {
                let hex = String(scalar.value - 0xF700, radix: 16, uppercase: true)
                shown += "\\x" + hex
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }
}

extension String {
    /// This path as the NUL-terminated bytes a system call takes (see `FileName`).
    public var cPath: [CChar] {
        guard utf8.contains(0xEF) else { return Array(utf8CString) }
        return FileName.encode(self).map { CChar(bitPattern: $0) } + [0]
    }
}
