import RunnerSystem

/// What an rsync daemon's module holds, from `rsync --list-only -r`: each entry's path and
/// whether it is a directory. Names are printed with rsync's escapes (`\#ooo`, octal), which
/// are decoded; a symlink's ` -> destination` is cut off.
struct RsyncListing {
    let path: String
    let isDirectory: Bool

    static func read(_ target: RsyncTarget, timeout: Double) throws -> [RsyncListing] {
        let run = try RsyncRun(target, arguments: ["--list-only", "-r", target.moduleURL], timeout: timeout)
        return run.output.split(separator: "\n").compactMap(parse)
    }

    /// `drwxr-xr-x          4,096 2026/12/01 06:20:23 name`: five fields, then the name.
    static func parse(_ line: Substring) -> RsyncListing? {
        guard let kind = line.first, "-dlpcbs".contains(kind) else { return nil }
        var rest = line[...]
        for _ in 0..<4 {
            rest = rest.drop { $0 != " " }.drop { $0 == " " }
        }
        var name = String(rest)
        if kind == "l", let arrow = name.firstRange(of: " -> ") { name = String(name[..<arrow.lowerBound]) }
        name = unescape(name)
        guard !name.isEmpty, name != "." else { return nil }
        return RsyncListing(path: name, isDirectory: kind == "d")
    }

    /// rsync prints a byte it will not show as `\#` and three octal digits.
    static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        var u = Array(text.utf8)[...]
        while let b = u.first {
            if b == UInt8(ascii: "\\"), u.count >= 5, u[u.startIndex + 1] == UInt8(ascii: "#"),
                let value = UInt8(String(decoding: u.dropFirst(2).prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                u = u.dropFirst(5)
            } else {
                bytes.append(b)
                u = u.dropFirst()
            }
        }
        return FileName.decode(bytes)
    }
}
