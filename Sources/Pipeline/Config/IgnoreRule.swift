/// One ignore rule of a pipeline, as written: a gitignore-style glob or a Lua predicate,
/// with what is needed to explain a decision (its text, rule set, file and line). The
/// filter compiles the globs.
public struct IgnoreRule: Sendable {
    /// How the rule decides.
    public enum Matcher: Sendable, Equatable {
        /// The glob `text`.
        case glob
        /// A predicate the pipeline's hooks evaluate, by its index.
        case predicate(index: Int)
    }

    /// How the rule decides.
    public var matcher: Matcher
    /// The rule as written (`*.bak`), or `function` for predicates.
    public var text: String
    /// The named rule set it came from (`tempfiles.rsync`), if any.
    public var ruleSet: String?
    /// Where it was written, when known.
    public var location: SourceLocation?

    /// A rule.
    public init(matcher: Matcher, text: String, ruleSet: String? = nil, location: SourceLocation? = nil) {
        self.matcher = matcher
        self.text = text
        self.ruleSet = ruleSet
        self.location = location
    }

    /// A glob rule from its text.
    public static func glob(_ text: String, ruleSet: String? = nil, location: SourceLocation? = nil) -> IgnoreRule {
        IgnoreRule(matcher: .glob, text: text, ruleSet: ruleSet, location: location)
    }

    /// `rule-set "text" (file:line)`, as `explain` prints it.
    public var explanation: String {
        var s = ""
        if let ruleSet { s += ruleSet + " " }
        switch matcher {
        case .glob: s += "\"\(text)\""
        case .predicate: s += text
        }
        if let location { s += " (\(location))" }
        return s
    }
}
