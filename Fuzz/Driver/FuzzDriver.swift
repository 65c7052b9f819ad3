import CFuzzer
import FuzzTargets

#if canImport(Glibc)
    import Glibc
#endif

/// The parser the driver feeds. Set once in `runFuzzer`, before libFuzzer starts, and read
/// only by libFuzzer's loop on that same thread.
nonisolated(unsafe) private var current = FuzzTarget.frame

/// Runs libFuzzer over `target` with the process's command line (`-max_total_time=60`,
/// corpus directories, ...) and exits with its status.
public func runFuzzer(_ target: FuzzTarget) -> Never {
    current = target
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
}

/// One input. libFuzzer's runtime also links to it by this name.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    current.run(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}
