import Pipeline
import Testing

@Suite struct TargetURITests {
    @Test(arguments: [
        ("runner://10.0.0.11:8730/fpm", TargetURI.runner(host: "10.0.0.11", port: 8730, module: "fpm")),
        ("runner://host/fpm", TargetURI.runner(host: "host", port: 8730, module: "fpm")),
        ("runner://[::1]:9000/m", TargetURI.runner(host: "::1", port: 9000, module: "m")),
        ("ssh://deploy@10.0.1.21/fpm", TargetURI.ssh(user: "deploy", host: "10.0.1.21", port: nil, module: "fpm")),
        ("ssh://h:2222/fpm", TargetURI.ssh(user: nil, host: "h", port: 2222, module: "fpm")),
        ("file:///srv/mirror/fpm.d/", TargetURI.file(path: "/srv/mirror/fpm.d")),
    ])
    func validTargetsParse(_ text: String, _ expected: TargetURI) throws {
        #expect(try TargetURI(parsing: text) == expected)
    }

    @Test(arguments: [
        ("10.0.0.1/fpm", "no scheme"),
        ("http://h/fpm", "unknown scheme"),
        ("runner://h", "no /module"),
        ("runner://h:0/fpm", "not 1-65535"),
        ("runner://h:99999/fpm", "not 1-65535"),
        ("runner://h/", "module name"),
        ("runner://h/a/b", "module name"),
        ("runner://user@h/m", "takes no user"),
        ("file://relative/path", "absolute path"),
        ("file:///", "root"),
        ("file:///srv/../etc", "'..'"),
        ("ssh:///fpm", "no host"),
    ])
    func invalidTargetsSayWhy(_ text: String, _ why: String) {
        do {
            _ = try TargetURI(parsing: text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.message.contains(why), "\(error.message)")
            #expect(error.message.contains(text))
        }
    }
}
