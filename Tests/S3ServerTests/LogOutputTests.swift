import Logging
import NIOConcurrencyHelpers
import XCTest
@testable import S3Server

/// The human log format: `time level message key=value…`, keys sorted, the handler's
/// own metadata merged under the event's, control characters escaped (one event, one line).
final class LogOutputTests: XCTestCase {
    func testHumanLineHasSortedFieldsEscapedValuesAndMergedMetadata() throws {
        let lines = NIOLockedValueBox<[String]>([])
        var handler = LineLogHandler(label: "t", format: .human, level: .info, sink: LineSink { line in
            lines.withLockedValue { $0.append(line) }
        })
        handler[metadataKey: "zone"] = "handler"
        handler[metadataKey: "key"] = "overridden"
        let logger = Logger(label: "t") { _ in handler }
        logger.info("GET /b/k\n200", metadata: ["key": "a\tb", "status": .stringConvertible(200),
                                               "list": .array(["x", "y"]), "ms": .stringConvertible(1.5)])
        logger.debug("not logged")
        let line = try XCTUnwrap(lines.withLockedValue { $0 }.first)
        XCTAssertEqual(lines.withLockedValue { $0.count }, 1)
        let time = try XCTUnwrap(line.split(separator: " ").first)
        XCTAssertTrue(S3BucketOperationTests.isISO8601(String(time)), String(time))
        XCTAssertEqual(line.dropFirst(time.count),
                       #" info GET /b/k\n200 key=a\tb list=["x", "y"] ms=1.5 status=200 zone=handler"#)
    }
}
