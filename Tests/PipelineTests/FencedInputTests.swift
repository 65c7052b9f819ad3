import Testing

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// A dialed session's sender that never says hello: the read ends with a reason.
@Suite struct FencedInputTests {
    @Test func aSilentSenderEndsTheReadWithAReason() throws {
        var ends: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        defer { ends.forEach { close($0) } }
        ReceiverSession.setReceiveTimeout(ends[0], 0.2)
        let input = FencedInput(fd: ends[0])
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect {
            try buffer.withUnsafeMutableBytes { try input.read(into: $0, name: "sender") }
        } throws: { error in
            "\(error)".contains("sender") && "\(error)".contains("nothing came in time")
        }
    }
}
