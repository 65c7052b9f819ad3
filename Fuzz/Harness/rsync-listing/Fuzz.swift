import FuzzDriver

/// libFuzzer over the rsync-listing parser (built by `make fuzz` only).
@main enum Fuzz {
    static func main() { runFuzzer(.rsyncListing) }
}
