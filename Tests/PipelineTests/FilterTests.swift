import Pipeline
import Testing

/// gitignore semantics, table-driven: (rules, path, isDirectory, ignored?).
@Suite struct FilterTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let rules: [String]
        let path: String
        let isDirectory: Bool
        let ignored: Bool
        var testDescription: String { "\(rules) \(path)\(isDirectory ? "/" : "") -> \(ignored ? "ignored" : "kept")" }
    }

    static let cases: [Case] = [
        // A pattern without a slash matches the name at any depth.
        Case(rules: ["*.bak"], path: "a.bak", isDirectory: false, ignored: true),
        Case(rules: ["*.bak"], path: "x/y/a.bak", isDirectory: false, ignored: true),
        Case(rules: ["*.bak"], path: "a.bak.conf", isDirectory: false, ignored: false),
        Case(rules: ["*.bak"], path: "bak", isDirectory: false, ignored: false),
        // * and ? never cross a slash.
        Case(rules: ["a*c"], path: "abc", isDirectory: false, ignored: true),
        Case(rules: ["a/*.conf"], path: "a/b/c.conf", isDirectory: false, ignored: false),
        Case(rules: ["a/*.conf"], path: "a/c.conf", isDirectory: false, ignored: true),
        Case(rules: ["?.conf"], path: "x.conf", isDirectory: false, ignored: true),
        Case(rules: ["?.conf"], path: "xy.conf", isDirectory: false, ignored: false),
        // Character classes, ranges, negation.
        Case(rules: ["[abc].conf"], path: "b.conf", isDirectory: false, ignored: true),
        Case(rules: ["[abc].conf"], path: "d.conf", isDirectory: false, ignored: false),
        Case(rules: ["[!abc].conf"], path: "d.conf", isDirectory: false, ignored: true),
        Case(rules: ["[a-c]x"], path: "bx", isDirectory: false, ignored: true),
        Case(rules: ["[a-c]x"], path: "dx", isDirectory: false, ignored: false),
        Case(rules: ["[]]x"], path: "]x", isDirectory: false, ignored: true),
        // A leading slash anchors to the source root.
        Case(rules: ["/drafts"], path: "drafts", isDirectory: true, ignored: true),
        Case(rules: ["/drafts"], path: "x/drafts", isDirectory: true, ignored: false),
        Case(rules: ["/a.conf"], path: "a.conf", isDirectory: false, ignored: true),
        Case(rules: ["/a.conf"], path: "sub/a.conf", isDirectory: false, ignored: false),
        // A slash in the middle anchors too.
        Case(rules: ["x/drafts"], path: "x/drafts", isDirectory: true, ignored: true),
        Case(rules: ["x/drafts"], path: "y/x/drafts", isDirectory: true, ignored: false),
        // A trailing slash matches directories only, and everything below them.
        Case(rules: ["cache/"], path: "cache", isDirectory: false, ignored: false),
        Case(rules: ["cache/"], path: "cache", isDirectory: true, ignored: true),
        Case(rules: ["cache/"], path: "a/cache/f", isDirectory: false, ignored: true),
        // ** forms.
        Case(rules: ["**/foo"], path: "foo", isDirectory: false, ignored: true),
        Case(rules: ["**/foo"], path: "a/b/foo", isDirectory: false, ignored: true),
        Case(rules: ["a/**/b"], path: "a/b", isDirectory: false, ignored: true),
        Case(rules: ["a/**/b"], path: "a/x/y/b", isDirectory: false, ignored: true),
        Case(rules: ["a/**/b"], path: "c/a/x/b", isDirectory: false, ignored: false),
        Case(rules: ["a/**"], path: "a/x/y", isDirectory: false, ignored: true),
        Case(rules: ["a/**"], path: "a", isDirectory: true, ignored: false),
        Case(rules: ["a/**/b/**/c"], path: "a/b/x/b/c", isDirectory: false, ignored: true),
        Case(rules: ["a/**/b/**/c"], path: "a/c/b", isDirectory: false, ignored: false),
        Case(rules: ["**/x/**"], path: "x", isDirectory: true, ignored: false),
        Case(rules: ["**/x/**"], path: "q/x/y", isDirectory: false, ignored: true),
        // Many `**` against a deep path that almost matches (fuzzing found the old matcher
        // trying every split: this case did not finish).
        Case(
            rules: ["**/a/**/a/**/a/**/a/**/a/**/a/**/b"], path: String(repeating: "a/", count: 80) + "c",
            isDirectory: false, ignored: false),
        // ! re-includes; the last match wins, so order matters.
        Case(rules: ["*.conf", "!keep.conf"], path: "keep.conf", isDirectory: false, ignored: false),
        Case(rules: ["*.conf", "!keep.conf"], path: "other.conf", isDirectory: false, ignored: true),
        Case(rules: ["!keep.conf", "*.conf"], path: "keep.conf", isDirectory: false, ignored: true),
        // A file under an ignored directory cannot be re-included (as in git).
        Case(rules: ["/build/", "!/build/keep.conf"], path: "build/keep.conf", isDirectory: false, ignored: true),
        // Escapes and literal specials.
        Case(rules: ["\\#*#"], path: "#a#", isDirectory: false, ignored: true),
        Case(rules: ["#*#"], path: "#a#", isDirectory: false, ignored: true),
        Case(rules: ["\\!important"], path: "!important", isDirectory: false, ignored: true),
        Case(rules: ["a\\*"], path: "ab", isDirectory: false, ignored: false),
        Case(rules: ["a\\*"], path: "a*", isDirectory: false, ignored: true),
        // Trailing spaces are dropped unless escaped.
        Case(rules: ["a.conf  "], path: "a.conf", isDirectory: false, ignored: true),
        // Dot files are not special.
        Case(rules: ["*"], path: ".env", isDirectory: false, ignored: true),
        Case(rules: [".*"], path: "a.conf", isDirectory: false, ignored: false),
    ]

    @Test(arguments: cases)
    func gitignoreSemantics(_ c: Case) throws {
        let filter = try Filter(rules: c.rules.map { IgnoreRule.glob($0) })
        #expect(try filter.isIgnored(c.path, isDirectory: c.isDirectory) == c.ignored)
    }

    @Test func decisionNamesTheRuleFileAndLine() throws {
        let at = SourceLocation(file: "p.lua", line: 7)
        let filter = try Filter(rules: [
            IgnoreRule.glob("*.swp", ruleSet: "tempfiles.vim", location: at), IgnoreRule.glob("!keep.swp"),
        ])
        let d = try filter.decide("x/a.swp", isDirectory: false)
        #expect(d.ignored)
        #expect(d.explanation == "ignored by tempfiles.vim \"*.swp\" (p.lua:7)")
        let kept = try filter.decide("keep.swp", isDirectory: false)
        #expect(!kept.ignored)
        #expect(kept.explanation.hasPrefix("included: re-included by \"!keep.swp\""))
    }

    @Test func ancestorDirectoryDecisionIsExplained() throws {
        let filter = try Filter(rules: [IgnoreRule.glob("/drafts/")])
        let d = try filter.decide("drafts/a/b.conf", isDirectory: false)
        #expect(d.ignored)
        #expect(d.explanation.contains("via its directory drafts/"))
    }

    @Test func predicatesAreAskedWithPathAndKindAndLastMatchWins() throws {
        var asked: [String] = []
        let rules = [IgnoreRule.glob("*.conf"), IgnoreRule(matcher: .predicate(index: 0), text: "function")]
        let filter = try Filter(rules: rules) { index, path, isDirectory in
            asked.append("\(index):\(path):\(isDirectory)")
            return path.hasSuffix("~")
        }
        #expect(try filter.isIgnored("a~", isDirectory: false))
        #expect(try filter.isIgnored("b.conf", isDirectory: false))  // predicate false, the glob before it matches
        #expect(try !filter.isIgnored("c.txt", isDirectory: false))
        #expect(asked == ["0:a~:false", "0:b.conf:false", "0:c.txt:false"])
    }

    @Test func emptyPatternsAreRejected() {
        #expect(throws: ConfigError.self) { try Filter(rules: [IgnoreRule.glob("")]) }
        #expect(throws: ConfigError.self) { try Filter(rules: [IgnoreRule.glob("!")]) }
        #expect(throws: ConfigError.self) { try Filter(rules: [IgnoreRule.glob("/")]) }
    }
}
