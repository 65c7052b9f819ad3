import Testing

@testable import Pipeline

/// `{{ NAME }}` placeholders: filled, or a clear error with the file, line and name.
@Suite struct TemplateRendererTests {
    static func render(_ text: String, _ vars: [String: String]) throws -> String {
        String(decoding: try TemplateRenderer.render(Array(text.utf8), vars: vars, file: "www.conf"), as: UTF8.self)
    }

    @Test func placeholdersAreFilledWithOrWithoutSpaces() throws {
        let out = try Self.render(
            "env[APP_MODE] = {{ APP_MODE }}\nenv[DB] = {{DB}}\nuser = ${HOME} {{\tgroup }}\n",
            ["APP_MODE": "functional", "DB": "db-f", "group": "functional"])
        #expect(out == "env[APP_MODE] = functional\nenv[DB] = db-f\nuser = ${HOME} functional\n")
    }

    @Test func anUndefinedNameIsAnErrorWithItsLine() {
        let error = #expect(throws: TemplateRenderer.Failure.self) {
            try Self.render("a\nb = {{ A }}\nc = {{ MISSING }}\n", ["A": "1"])
        }
        #expect(
            error?.description.hasPrefix("www.conf:3: undefined variable 'MISSING'") == true,
            "\(String(describing: error))")
    }

    @Test(arguments: ["{{ }}", "{{ A", "{{ A }", "{{ a-b }}", "{{ 1x }}"])
    func aBraceThatOpensNoPlaceholderIsAnError(_ text: String) {
        #expect(throws: TemplateRenderer.Failure.self) { try Self.render(text, ["A": "1", "a": "2"]) }
    }
}
