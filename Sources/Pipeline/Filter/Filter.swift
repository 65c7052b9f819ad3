/// The filter stage: decides for each path whether it is ignored, and why.
///
/// gitignore semantics: the last matching rule wins, `!` re-includes, and a path
/// under an ignored directory is ignored whatever rules say about the path itself
/// (git cannot re-include a file whose parent directory is excluded, nor can we).
public final class Filter {
    /// Evaluates a predicate rule (a Lua function) for a path.
    public typealias PredicateEvaluator = (_ index: Int, _ path: String, _ isDirectory: Bool) throws -> Bool

    /// The rules in the order written.
    public let rules: [IgnoreRule]
    /// Each glob rule's compiled pattern (nil for predicates).
    private let patterns: [GlobPattern?]
    private let evaluate: PredicateEvaluator?
    private var directoryCache: [String: Decision] = [:]

    /// A decision with its reason.
    public struct Decision: Sendable {
        /// Whether the path is ignored.
        public var ignored: Bool
        /// The rule that decided, or nil when none matched (the path is included).
        public var rule: IgnoreRule?
        /// The path the rule matched: the path itself or an ignored ancestor directory.
        public var matchedPath: String
        /// Whether the rule matched an ancestor directory rather than the path.
        public var viaAncestor = false

        /// Human text: `ignored by <rule>` or `included`.
        public var explanation: String {
            guard let rule else { return "included (no rule matches)" }
            let via = viaAncestor ? ", via its directory \(matchedPath)/" : ""
            if ignored {
                return "ignored by \(rule.explanation)\(via)"
            }
            return "included: re-included by \(rule.explanation)"
        }
    }

    /// A filter over rules; `evaluate` runs predicate rules (required when there are any).
    /// A glob that cannot be compiled is an error naming its rule's place.
    public init(rules: [IgnoreRule], evaluate: PredicateEvaluator? = nil) throws(ConfigError) {
        var patterns: [GlobPattern?] = []
        for rule in rules {
            guard rule.matcher == .glob else {
                patterns.append(nil)
                continue
            }
            do { patterns.append(try GlobPattern(rule.text)) } catch {
                throw ConfigError(error.message, at: rule.location)
            }
        }
        self.rules = rules
        self.patterns = patterns
        self.evaluate = evaluate
    }

    private init(rules: [IgnoreRule], patterns: [GlobPattern?], evaluate: PredicateEvaluator?) {
        self.rules = rules
        self.patterns = patterns
        self.evaluate = evaluate
    }

    /// The same rules with another predicate evaluator and a cache of its own (for a
    /// worker thread, whose predicates go back to the Lua state's thread).
    public func with(evaluate: PredicateEvaluator?) -> Filter {
        Filter(rules: rules, patterns: patterns, evaluate: evaluate)
    }

    /// Whether a path is ignored. `path` is relative to the source root.
    public func isIgnored(_ path: String, isDirectory: Bool) throws -> Bool {
        try decide(path, isDirectory: isDirectory).ignored
    }

    /// Decides for a path, with the rule that decided.
    public func decide(_ path: String, isDirectory: Bool) throws -> Decision {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var prefix = ""
        for part in parts.dropLast() {
            prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
            var d = try decideDirectory(prefix)
            if d.ignored {
                d.viaAncestor = true
                return d
            }
        }
        return try decideOne(path, isDirectory: isDirectory)
    }

    /// Decides for an entry of a directory a walk entered: its ancestors are decided (and
    /// kept) already, so only the entry's own rules are looked at.
    public func decide(entry path: String, isDirectory: Bool) throws -> Decision {
        try decideOne(path, isDirectory: isDirectory)
    }

    /// Forget cached directory decisions (predicates may depend on state that changed).
    public func resetCache() { directoryCache.removeAll(keepingCapacity: true) }

    private func decideDirectory(_ path: String) throws -> Decision {
        if let d = directoryCache[path] { return d }
        let d = try decideOne(path, isDirectory: true)
        if directoryCache.count > 4096 { directoryCache.removeAll(keepingCapacity: true) }
        directoryCache[path] = d
        return d
    }

    private func decideOne(_ path: String, isDirectory: Bool) throws -> Decision {
        let bytes = Array(path.utf8)
        for (rule, pattern) in zip(rules, patterns).reversed() {
            switch rule.matcher {
            case .glob:
                if let g = pattern, g.matches(bytes, isDirectory: isDirectory) {
                    return Decision(ignored: !g.negated, rule: rule, matchedPath: path)
                }
            case .predicate(let index):
                guard let evaluate else { continue }
                if try evaluate(index, path, isDirectory) {
                    return Decision(ignored: true, rule: rule, matchedPath: path)
                }
            }
        }
        return Decision(ignored: false, rule: nil, matchedPath: path)
    }
}
