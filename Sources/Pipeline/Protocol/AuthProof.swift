import Crypto

/// Challenge-response auth for `runner://`: the receiver sends a fresh 32-byte nonce,
/// the sender answers HMAC-SHA256(secret, "runner-auth-v1" ‖ module ‖ user ‖ nonce).
/// The secret never crosses the wire, and an answer is good for one nonce, one
/// module and one user only, so a recorded answer cannot be replayed.
enum AuthProof {
    static func message(nonce: [UInt8], module: String, user: String) -> [UInt8] {
        Array("runner-auth-v1\u{0}".utf8) + Array(module.utf8) + [0] + Array(user.utf8) + [0] + nonce
    }

    static func response(secret: String, nonce: [UInt8], module: String, user: String) -> [UInt8] {
        code(message(nonce: nonce, module: module, user: user), secret: secret)
    }

    /// Constant-time check of an answer.
    static func verify(_ answer: [UInt8], secret: String, nonce: [UInt8], module: String, user: String) -> Bool {
        isValid(answer, message(nonce: nonce, module: module, user: user), secret: secret)
    }

    /// The proof of a side of a dialed connection (`upstream`): HMAC-SHA256(secret,
    /// "runner-dial-v1" ‖ side ‖ pipeline ‖ name ‖ module ‖ nonce), the sender's answer to the
    /// dialer's nonce first (side "sender"), then the dialer's to the sender's ("receiver").
    /// Each side proves the one shared secret, so a dialer never serves a sender that does
    /// not know it, and the side in the message keeps one answer from serving as the other.
    static func dial(
        secret: String, side: String, nonce: [UInt8], pipeline: String, name: String, module: String
    ) -> [UInt8] {
        code(dialMessage(side: side, nonce: nonce, pipeline: pipeline, name: name, module: module), secret: secret)
    }

    /// Constant-time check of a dial proof.
    static func verifyDial(
        _ answer: [UInt8], secret: String, side: String, nonce: [UInt8], pipeline: String, name: String,
        module: String
    ) -> Bool {
        isValid(
            answer, dialMessage(side: side, nonce: nonce, pipeline: pipeline, name: name, module: module),
            secret: secret)
    }

    private static func dialMessage(side: String, nonce: [UInt8], pipeline: String, name: String, module: String)
        -> [UInt8]
    {
        Array("runner-dial-v1\u{0}\(side)\u{0}\(pipeline)\u{0}\(name)\u{0}\(module)\u{0}".utf8) + nonce
    }

    private static func code(_ message: [UInt8], secret: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8))))
    }

    private static func isValid(_ answer: [UInt8], _ message: [UInt8], secret: String) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(
            answer, authenticating: message, using: SymmetricKey(data: Array(secret.utf8)))
    }

    /// A fresh nonce from the system's random source.
    static func nonce() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
    }
}
