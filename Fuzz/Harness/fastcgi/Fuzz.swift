import FuzzDriver

/// libFuzzer over the fastcgi parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.fastcgi) }
}
