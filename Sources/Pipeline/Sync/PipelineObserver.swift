/// Hears what a pipeline does, for its metrics. The service room answers it, so that
/// the pipeline names nothing of the service face.
protocol PipelineObserver: AnyObject {
    /// A delivery came back from a host (`attempt`: a retry of a host already down counts too).
    func delivered(_ result: DeliveryResult, pipeline: String, host: DeliveryHost, as: TargetResult)
    /// A batch was cut from the watch.
    func batchCut(pipeline: String, paths: Int)
    /// The watch lost events (`overflow`) or the tree was compared whole (`rescan`).
    func watchTrouble(pipeline: String, kind: String)
    /// Every host has a revision: seconds from its first event to the last host applying it.
    func propagated(pipeline: String, seconds: Double)
}
