/// The parsers that read what a peer, a file or a user wrote, each fed arbitrary bytes:
/// by the libFuzzer executables of `Fuzz/` (`make fuzz`), and by `make test`, which replays
/// every seed of `Fuzz/corpus/<name>/` through the same function. A finding is a crash (an
/// unchecked length, an out-of-range index, a failed round trip); a refused input is not.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A stream of frames, read as either end reads them (every message's decoder).
    case frame
    /// One message: a type byte, then its payload; what decodes must encode back the same.
    case message
    /// A signature, as a receiver sends it, then a delta made against it.
    case signature
    /// A delta applied to a basis, streamed and over a clone of the basis.
    case delta
    /// A receiver's `secrets` file and a sender's `secret_file`.
    case secrets
    /// A glob: the pattern up to the first newline, then a path it is matched against.
    case glob
    /// A php-fpm pool's FastCGI answer.
    case fastcgi
    /// `rsync --list-only` output from an rsync daemon.
    case rsyncListing = "rsync-listing"
    /// A configuration script, run with a deadline and a memory budget.
    case dsl

    /// Feeds one input to the parser; returns normally whether it was accepted or refused.
    public func run(_ input: [UInt8]) {
        switch self {
        case .frame: FuzzWire.frames(input)
        case .message: FuzzWire.message(input)
        case .signature: FuzzDelta.signature(input)
        case .delta: FuzzDelta.delta(input)
        case .secrets: FuzzText.secrets(input)
        case .glob: FuzzText.glob(input)
        case .fastcgi: FuzzText.fastcgi(input)
        case .rsyncListing: FuzzText.rsyncListing(input)
        case .dsl: FuzzScript.run(input)
        }
    }
}
