import FuzzDriver

/// libFuzzer over the secrets parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.secrets) }
}
