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

    /// A fresh nonce from the system's random source.
    static func nonce() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
    }
}
