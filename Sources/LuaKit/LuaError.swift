/// An error raised by Lua code or by loading a chunk, with where it happened.
public struct LuaError: Error, CustomStringConvertible {
    /// What kind of failure Lua reported.
    public enum Kind: Sendable { case syntax, runtime, memory, file, timeout }

    /// The kind of failure.
    public var kind: Kind
    /// The chunk (file path, or chunk name) the error points at, when known.
    public var file: String?
    /// The line in `file`, when known.
    public var line: Int?
    /// The message without the `file:line:` prefix and without the traceback.
    public var message: String
    /// Lua's `stack traceback:` text, when the error came through a call.
    public var traceback: String?

    /// Builds an error by splitting Lua's `chunk:line: message\nstack traceback:...` text.
    public init(kind: Kind, raw: String) {
        self.kind = kind
        var text = raw
        if let r = text.firstRange(of: "\nstack traceback:") {
            traceback = String(text[r.lowerBound...]).trimmingPrefix("\n")
            text = String(text[..<r.lowerBound])
        }
        // "file.lua:12: message" — the file may itself contain ':' so split at the last ":<digits>: " before the message.
        if let (file, line, rest) = LuaError.splitLocation(text) {
            self.file = file
            self.line = line
            self.message = rest
        } else {
            self.message = text
        }
    }

    /// An error with explicit parts.
    public init(kind: Kind, file: String?, line: Int?, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        switch (file, line) {
        case let (f?, l?): return "\(f):\(l): \(message)"
        case let (f?, nil): return "\(f): \(message)"
        default: return message
        }
    }

    static func splitLocation(_ text: String) -> (String, Int, String)? {
        let scalars = Array(text.utf8)
        // Search for ":<digits>: " with the smallest end, so that a message holding such text is not split.
        var i = 0
        while i < scalars.count {
            if scalars[i] == UInt8(ascii: ":") {
                var j = i + 1
                while j < scalars.count, scalars[j] >= 0x30, scalars[j] <= 0x39 { j += 1 }
                if j > i + 1, j + 1 < scalars.count, scalars[j] == UInt8(ascii: ":"),
                    scalars[j + 1] == UInt8(ascii: " "), i > 0
                {
                    let file = String(decoding: scalars[..<i], as: UTF8.self)
                    let line = Int(String(decoding: scalars[(i + 1)..<j], as: UTF8.self)) ?? 0
                    let rest = String(decoding: scalars[(j + 2)...], as: UTF8.self)
                    if !file.contains("\n") { return (file, line, rest) }
                    return nil
                }
            }
            i += 1
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingPrefix(_ p: String) -> String { hasPrefix(p) ? String(dropFirst(p.count)) : self }
}

/// An error that names its own place (file and line): a Swift function that throws one
/// to Lua does not get its caller's position put in front of it.
public protocol LocatedError: Error {}
