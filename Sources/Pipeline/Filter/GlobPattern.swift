/// One gitignore-style pattern, compiled: `*`, `?`, `[...]`, `**`, a leading `/`
/// anchoring to the source root, a trailing `/` for directories only, `!` to re-include.
///
/// Paths are matched as bytes, relative to the source root, `/`-separated.
public struct GlobPattern: Sendable, Equatable {
    enum Token: Sendable, Equatable {
        case literal(UInt8)
        case any  // ?
        case star  // *
        case set(ranges: [ClosedRange<UInt8>], negated: Bool)
    }

    enum Segment: Sendable, Equatable {
        case doubleStar
        case tokens([Token])
    }

    /// The pattern as written.
    public let text: String
    /// `!pattern`: a match re-includes the path.
    public let negated: Bool
    /// `pattern/`: only directories match.
    public let directoryOnly: Bool
    /// Whether the pattern is tied to the source root (it has a `/` before its end).
    public let anchored: Bool
    let segments: [Segment]

    /// Compiles a pattern; throws for an empty one.
    public init(_ text: String) throws(ConfigError) {
        self.text = text
        var bytes = Array(text.utf8)
        // Trailing spaces are dropped unless escaped, as git does.
        while let last = bytes.last, last == UInt8(ascii: " ") {
            if bytes.count >= 2 && bytes[bytes.count - 2] == UInt8(ascii: "\\") { break }
            bytes.removeLast()
        }
        var negated = false
        if bytes.first == UInt8(ascii: "!") {
            negated = true
            bytes.removeFirst()
        }
        var directoryOnly = false
        if bytes.count > 1, bytes.last == UInt8(ascii: "/") {
            directoryOnly = true
            bytes.removeLast()
        }
        var anchored = false
        if bytes.first == UInt8(ascii: "/") {
            anchored = true
            bytes.removeFirst()
        }
        guard !bytes.isEmpty, bytes != [UInt8(ascii: "/")] else {
            throw ConfigError("empty ignore pattern '\(text)'")
        }
        let parts = GlobPattern.splitSegments(bytes)
        if parts.count > 1 { anchored = true }
        self.negated = negated
        self.directoryOnly = directoryOnly
        self.anchored = anchored
        var segments: [Segment] = parts.map { part in
            part == Array("**".utf8) ? .doubleStar : .tokens(GlobPattern.tokenize(part))
        }
        // A trailing "/**" matches everything inside, but not the directory itself: one
        // component at least, then any number.
        if segments.count > 1, segments.last == .doubleStar {
            segments.insert(.tokens([.star]), at: segments.count - 1)
        }
        self.segments = segments
    }

    /// Whether the pattern matches a path (relative to the root, no leading `/`).
    /// `negated` is not applied here: the filter decides what a match means.
    public func matches(_ path: [UInt8], isDirectory: Bool) -> Bool {
        if directoryOnly && !isDirectory { return false }
        let components = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard !components.isEmpty else { return false }
        if !anchored {
            // No slash in the pattern: it matches the name at any depth.
            guard case .tokens(let tokens) = segments[0] else { return true }
            return GlobPattern.match(tokens, components[components.count - 1])
        }
        return matchSegments(components)
    }

    /// `**` is to components what `*` is to the bytes of a name, and is matched the same
    /// way (trying every split of every `**` is exponential: `**/a/**/a/**/a/**/b` against
    /// `a/a/a/...` did not finish).
    private func matchSegments(_ components: [ArraySlice<UInt8>]) -> Bool {
        GlobPattern.starMatch(
            count: segments.count, against: components.count, isStar: { segments[$0] == .doubleStar },
            matches: { s, c in
                guard case .tokens(let tokens) = segments[s] else { return false }
                return GlobPattern.match(tokens, components[c])
            })
    }

    /// Wildcard match of one path component.
    static func match(_ tokens: [Token], _ name: ArraySlice<UInt8>) -> Bool {
        let name = Array(name)
        return starMatch(
            count: tokens.count, against: name.count, isStar: { tokens[$0] == .star },
            matches: { t, n in
                switch tokens[t] {
                case .star: return false
                case .any: return true
                case .literal(let b): return b == name[n]
                case .set(let ranges, let negated): return ranges.contains { $0.contains(name[n]) } != negated
                }
            })
    }

    /// Matches `count` pattern items against `subjectCount` subject items, where a star
    /// item matches any run of them and every other item exactly one (`matches`). On a
    /// mismatch only the last star takes one more item: the cost stays pattern × subject.
    @inline(__always)
    private static func starMatch(
        count: Int, against subjectCount: Int, isStar: (Int) -> Bool, matches: (Int, Int) -> Bool
    ) -> Bool {
        var p = 0, n = 0
        var starP = -1, starN = 0
        while n < subjectCount {
            if p < count {
                if isStar(p) {
                    starP = p; starN = n; p += 1
                    continue
                }
                if matches(p, n) {
                    p += 1; n += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starN += 1
            n = starN
        }
        while p < count, isStar(p) { p += 1 }
        return p == count
    }

    /// Splits at unescaped `/`.
    private static func splitSegments(_ bytes: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = [[]]
        var i = 0
        var inSet = false
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
                parts[parts.count - 1].append(b)
                parts[parts.count - 1].append(bytes[i + 1])
                i += 2
                continue
            }
            if b == UInt8(ascii: "[") { inSet = true }
            if b == UInt8(ascii: "]") { inSet = false }
            if b == UInt8(ascii: "/") && !inSet {
                parts.append([])
            } else {
                parts[parts.count - 1].append(b)
            }
            i += 1
        }
        return parts.filter { !$0.isEmpty }
    }

    private static func tokenize(_ bytes: [UInt8]) -> [Token] {
        var tokens: [Token] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\\") where i + 1 < bytes.count:
                tokens.append(.literal(bytes[i + 1]))
                i += 2
            case UInt8(ascii: "*"):
                if tokens.last != .star { tokens.append(.star) }
                i += 1
            case UInt8(ascii: "?"):
                tokens.append(.any)
                i += 1
            case UInt8(ascii: "["):
                if let (set, next) = parseSet(bytes, from: i) {
                    tokens.append(set)
                    i = next
                } else {
                    tokens.append(.literal(b))  // an unclosed '[' is a plain character
                    i += 1
                }
            default:
                tokens.append(.literal(b))
                i += 1
            }
        }
        return tokens
    }

    private static func parseSet(_ bytes: [UInt8], from start: Int) -> (Token, Int)? {
        var i = start + 1
        var negated = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "!") || bytes[i] == UInt8(ascii: "^") {
            negated = true
            i += 1
        }
        var ranges: [ClosedRange<UInt8>] = []
        var first = true
        while i < bytes.count {
            var c = bytes[i]
            if c == UInt8(ascii: "]") && !first { return (.set(ranges: ranges, negated: negated), i + 1) }
            first = false
            if c == UInt8(ascii: "\\"), i + 1 < bytes.count { i += 1; c = bytes[i] }
            if i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "-"), bytes[i + 2] != UInt8(ascii: "]") {
                let hi = bytes[i + 2]
                if c <= hi { ranges.append(c...hi) }
                i += 3
            } else {
                ranges.append(c...c)
                i += 1
            }
        }
        return nil
    }
}
