import Pipeline
import PropertyBased
import Testing

/// The vectorized block sum and the O(1) roll agree with rsync's byte-by-byte definition.
@Suite struct RollingChecksumTests {
    static func reference(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var a: UInt32 = 0, b: UInt32 = 0
        for x in bytes {
            a = a &+ UInt32(x)
            b = b &+ a
        }
        return (a & 0xffff) | (b << 16)
    }

    @Test func blockSumMatchesTheDefinition() async {
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...300)) { bytes in
            let sum = bytes.withUnsafeBytes { RollingChecksum($0).value }
            #expect(sum == Self.reference(bytes[...]))
        }
    }

    @Test func rollingEqualsRecomputing() async {
        await propertyCheck(count: 200, input: Gen.uint8().array(of: 2...400), Gen.int(in: 1...64)) { bytes, window in
            let w = min(window, bytes.count - 1)
            var rolling = bytes.withUnsafeBytes { RollingChecksum(UnsafeRawBufferPointer(rebasing: $0[0..<w])) }
            for start in 1...(bytes.count - w) {
                rolling.roll(out: bytes[start - 1], in: bytes[start + w - 1])
                #expect(rolling.value == Self.reference(bytes[start..<(start + w)]))
            }
        }
    }

    @Test func largeBlocksWrapLikeTheRollingUpdate() {
        // 128 KiB of 0xFF overflows 32-bit running sums: both sides must wrap alike.
        let bytes = [UInt8](repeating: 0xFF, count: 1 << 17)
        #expect(bytes.withUnsafeBytes { RollingChecksum($0).value } == Self.reference(bytes[...]))
    }
}
