import FuzzDriver

/// libFuzzer over the frame parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.frame) }
}
