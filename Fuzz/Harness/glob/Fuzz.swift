import FuzzDriver

/// libFuzzer over the glob parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.glob) }
}
