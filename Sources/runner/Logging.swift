import Foundation
import Logging
import Synchronization

/// Builds the process logger: stderr, text or JSON lines.
func makeLogger(_ options: CommonOptions) -> Logger {
    let format = options.logFormat
    var logger = Logger(label: "runner") { label in StderrLogHandler(label: label, format: format) }
    logger.logLevel = options.logLevel.flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

/// One line per message on stderr: `time level message key=value ...`, or a JSON object.
struct StderrLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let time = Date().formatted(.iso8601.year().month().day().timeSeparator(.colon).time(includingFractionalSeconds: true))
        var line: String
        switch format {
        case .text:
            line = "\(time) \(event.level) \(event.message)"
            for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "msg": "\(event.message)"]
            for (k, v) in all { object[k] = "\(v)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
