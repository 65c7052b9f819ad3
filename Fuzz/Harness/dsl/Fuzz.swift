import FuzzDriver

/// libFuzzer over the dsl parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.dsl) }
}
