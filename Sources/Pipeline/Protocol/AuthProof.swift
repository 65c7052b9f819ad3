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
        let key = SymmetricKey(data: Array(secret.utf8))
        return Array(
            HMAC<SHA256>.authenticationCode(for: message(nonce: nonce, module: module, user: user), using: key))
    }

    /// Constant-time check of an answer.
    static func verify(_ answer: [UInt8], secret: String, nonce: [UInt8], module: String, user: String) -> Bool {
        let key = SymmetricKey(data: Array(secret.utf8))
        return HMAC<SHA256>.isValidAuthenticationCode(
            answer, authenticating: message(nonce: nonce, module: module, user: user), using: key)
    }

    /// The proof of a side of a dialed connection (`upstream`): HMAC-SHA256(secret,
    /// "runner-dial-v1" ‖ side ‖ pipeline ‖ name ‖ module ‖ nonce), the sender's answer to the
    /// dialer's nonce first (side "sender"), then the dialer's to the sender's ("receiver").
    /// Each side proves the one shared secret, so a dialer never serves a sender that does
    /// not know it, and the side in the message keeps one answer from serving as the other.
    static func dial(
        secret: String, side: String, nonce: [UInt8], pipeline: String, name: String, module: String
    ) -> [UInt8] {
        let key = SymmetricKey(data: Array(secret.utf8))
        let message =
            Array("runner-dial-v1\u{0}\(side)\u{0}\(pipeline)\u{0}\(name)\u{0}\(module)\u{0}".utf8) + nonce
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// Constant-time check of a dial proof.
    static func verifyDial(
        _ answer: [UInt8], secret: String, side: String, nonce: [UInt8], pipeline: String, name: String,
        module: String
    ) -> Bool {
        let expected = dial(secret: secret, side: side, nonce: nonce, pipeline: pipeline, name: name, module: module)
        guard answer.count == expected.count else { return false }
        return zip(answer, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A fresh nonce from the system's random source.
    static func nonce() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
    }
}
