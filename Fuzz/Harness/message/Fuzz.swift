import FuzzDriver

/// libFuzzer over the message parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.message) }
}
