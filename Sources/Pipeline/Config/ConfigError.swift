/// A configuration mistake: what is wrong, where, and how to fix it.
///
/// `runner` exits with status 2 for these.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// Where the mistake is, when known.
    public var location: SourceLocation?
    /// What is wrong.
    public var message: String
    /// How to fix it, when there is something to say.
    public var hint: String?

    /// A configuration error.
    public init(_ message: String, at location: SourceLocation? = nil, hint: String? = nil) {
        self.message = message
        self.location = location
        self.hint = hint
    }

    public var description: String {
        var s = location.map { "\($0): \(message)" } ?? message
        if let hint { s += " (\(hint))" }
        return s
    }
}

extension ConfigError {
    /// "did you mean ..." for a misspelt name among the known ones, by edit distance.
    public static func suggestion(for word: String, among known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        let limit = max(2, word.count / 3)
        return best.1 <= limit ? "did you mean '\(best.0)'?" : nil
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
