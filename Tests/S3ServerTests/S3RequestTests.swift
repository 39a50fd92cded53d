import NIOHTTP1
import XCTest
@testable import S3Server

/// Request-target parsing shared with signature checking.
final class S3RequestTests: XCTestCase {
    /// The routing parse hands its decoded query to signature checking only when that
    /// is exactly what the signing parse (`+` literal) would produce.
    func testQueryIsSharedWithSigningOnlyWhenBothDecodingsAgree() throws {
        let shared = ["", "a=1&b=%2F", "&&a=&b", "x=%C3%A9&y", "uploads",
                      "X-Amz-Credential=AK%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=60"]
        let notShared = ["a+b=c", "q=1%2B2+3", "x=%zz", "x=%FF", "x=%4", "%=1"]
        for query in shared + notShared {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/bkt/key" + (query.isEmpty ? "" : "?" + query))
            let request = try S3Request(head: head, domain: nil)
            let signing = SigningRequest.parseQuery(query)
            if let reused = request.queryAsSigned {
                XCTAssertTrue(shared.contains(query), "\(query) must not be shared")
                XCTAssertEqual(reused.map(\.name), signing.map(\.name), query)
                XCTAssertEqual(reused.map(\.value), signing.map(\.value), query)
            } else {
                XCTAssertTrue(notShared.contains(query), "\(query) should be shared")
            }
        }
    }
}
