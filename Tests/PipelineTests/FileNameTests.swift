import PropertyBased
import RunnerSystem
import Testing

/// Any byte string survives the trip through a Swift `String` and back, including bytes
/// that are not UTF-8 and valid UTF-8 that spells the escape range itself.
@Suite struct FileNameTests {
    @Test func everyByteStringRoundTrips() async {
        // Bytes drawn to hit the hard cases often: lead bytes, continuation bytes, and the
        // EF 9E/9F prefix of the escape scalars, beside plain ASCII.
        let pieces: [[UInt8]] = [
            [0x61], [0x2E], [0xE9], [0xFF], [0x80], [0xC3], [0xA9], [0xEF], [0x9E], [0x9F], [0xBF],
            [0xEF, 0x9E, 0x80], [0xEF, 0x9F, 0xBF], [0xF0, 0x9F, 0x98, 0x80], [0xED, 0xA0, 0x80],
        ]
        await propertyCheck(count: 500, input: Gen.element(of: pieces).array(of: 0...24)) { (parts: [[UInt8]?]) in
            let bytes = parts.flatMap { $0 ?? [] }
            let text = FileName.decode(bytes)
            #expect(FileName.encode(text) == bytes)
            #expect(text.cPath.dropLast().map { UInt8(bitPattern: $0) } == bytes)
            #expect(FileName.byteCount(text[...].utf8) == bytes.count)
        }
    }

    @Test func validNamesStayAsTheyAreAndEscapesShowAsHex() {
        #expect(FileName.decode(Array("café.conf".utf8)) == "café.conf")
        #expect(FileName.display(FileName.decode([0x63, 0xE9])) == "c\\xE9")
        #expect(FileName.decode([0x63, 0xE9]) != FileName.decode([0x63, 0xE8]))
    }
}
