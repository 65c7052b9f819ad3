import FuzzDriver

/// libFuzzer over the delta parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.delta) }
}
