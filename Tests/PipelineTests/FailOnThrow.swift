import Testing

/// Runs a property's body and records what it throws as a failure. swift-property-based
/// 2.0.1 runs bodies under `try?` on Swift 6.2 and later (its `countIssues`), so a body
/// that throws would pass: every throwing property body goes through here.
func failOnThrow(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do { try body() } catch { Issue.record(error, sourceLocation: sourceLocation) }
}
