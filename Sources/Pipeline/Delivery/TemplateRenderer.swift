/// Fills a template's `{{ NAME }}` placeholders (spaces inside the braces optional) with a
/// destination's values. Not `${NAME}`: php-fpm expands `${HOME}` in pool files itself, so
/// a leftover would be silently wrong. Every `{{` must open a placeholder, and every name
/// must have a value: an undefined one is an error naming the file, line and variable,
/// never an empty string.
enum TemplateRenderer {
    /// A placeholder that cannot be filled.
    struct Failure: Error, Sendable, CustomStringConvertible {
        let file: String
        let line: Int
        let message: String
        var description: String { "\(file):\(line): \(message)" }
    }

    /// The rendered bytes; `file` names the template in errors.
    static func render(_ text: [UInt8], vars: [String: String], file: String) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0, line = 1
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        while i < text.count {
            let c = text[i]
            guard c == open, i + 1 < text.count, text[i + 1] == open else {
                if c == UInt8(ascii: "\n") { line += 1 }
                out.append(c)
                i += 1
                continue
            }
            var j = i + 2
            while j < text.count, text[j] == UInt8(ascii: " ") || text[j] == UInt8(ascii: "\t") { j += 1 }
            let start = j
            while j < text.count, isNameByte(text[j], first: j == start) { j += 1 }
            let name = String(decoding: text[start..<j], as: UTF8.self)
            while j < text.count, text[j] == UInt8(ascii: " ") || text[j] == UInt8(ascii: "\t") { j += 1 }
            guard !name.isEmpty, j + 1 < text.count, text[j] == close, text[j + 1] == close else {
                throw Failure(file: file, line: line, message: "'{{' does not open a {{ NAME }} placeholder")
            }
            guard let value = vars[name] else {
                let known = vars.keys.sorted().joined(separator: ", ")
                throw Failure(file: file, line: line, message: "undefined variable '\(name)' (defined: \(known))")
            }
            out += Array(value.utf8)
            i = j + 2
        }
        return out
    }

    private static func isNameByte(_ b: UInt8, first: Bool) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || b == UInt8(ascii: "_")
            || (!first && b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }
}
