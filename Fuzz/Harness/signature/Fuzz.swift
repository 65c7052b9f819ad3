import FuzzDriver

/// libFuzzer over the signature parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.signature) }
}
