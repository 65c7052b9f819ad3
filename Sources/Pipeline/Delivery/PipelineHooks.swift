/// The callbacks a pipeline's configuration supplies (Lua functions, through the
/// bridge). They are called on the run loop's thread, per batch, never per event.
public protocol PipelineHooks: AnyObject {
    /// Evaluates ignore predicate number `index` of a pipeline for a path.
    func ignores(pipeline: String, predicate index: Int, path: String, isDirectory: Bool) throws -> Bool
    /// `check(batch)`: nil lets the batch go; a reason holds it.
    func check(pipeline: String, batch: ChangeBatch) throws -> String?
    /// `render(path, text, vars, target)`, when the pipeline's `render` is a function: the
    /// text the target gets.
    func render(pipeline: String, path: String, text: [UInt8], vars: [String: String], target: String) throws -> [UInt8]
    /// `after(host, result)`, once per target after its result came back.
    func after(pipeline: String, target: String, result: TargetResult) throws
    /// `on_group(group, revision, hosts)`, once per group per revision it came to an end in.
    func onGroup(pipeline: String, outcome: GroupOutcome) throws
}
