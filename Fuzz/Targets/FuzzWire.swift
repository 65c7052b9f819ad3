@testable import Pipeline

/// The wire protocol's parsers under fuzzing.
enum FuzzWire {
    /// Frames until the stream ends or one is refused. Each message decoded must survive
    /// a second trip through its encoder and decoder unchanged.
    static func frames(_ input: [UInt8]) {
        let reader = FrameReader(ByteReader(bytes: input, name: "fuzz"))
        while case .some(.some(let message)) = try? reader.next() {
            checkRoundTrip(message)
        }
    }

    /// One payload of the type its first byte names.
    static func message(_ input: [UInt8]) {
        guard let first = input.first, let type = FrameType(rawValue: first),
            let message = try? WireMessage.decode(type, Array(input.dropFirst()))
        else { return }
        checkRoundTrip(message)
    }

    /// What one decode made, encoded and decoded again, is what it was (after the
    /// first trip, which may normalise: a mode's file-type bits, a long error's tail).
    private static func checkRoundTrip(_ message: WireMessage) {
        let once = reencode(message)
        precondition(reencode(once) == once, "\(message.frameType) does not survive its encoder and decoder")
    }

    private static func reencode(_ message: WireMessage) -> WireMessage {
        var b = PayloadBuilder()
        message.encode(&b)
        do throws(WireError) {
            return try WireMessage.decode(message.frameType, b.bytes)
        } catch {
            preconditionFailure("\(message.frameType) encodes to what its decoder refuses: \(error.message)")
        }
    }
}
