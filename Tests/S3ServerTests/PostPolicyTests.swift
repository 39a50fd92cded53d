import Foundation
import XCTest
@testable import S3Server

/// The POST policy document of browser uploads and its conditions ("Creating a POST
/// policy", S3 user guide).
final class PostPolicyTests: XCTestCase {
    static func policy(_ json: String) throws -> PostPolicy {
        try PostPolicy.parse(base64: Data(json.utf8).base64EncodedString())
    }

    static let now = AmzDate.parseISO8601Basic("20261204T120000Z")!

    func testConditionFormsAndExpiration() throws {
        let policy = try Self.policy("""
        {"expiration": "2026-12-04T12:30:00.000Z",
         "conditions": [{"bucket": "photos"}, ["starts-with", "$key", "user/"], ["eq", "$Content-Type", "image/png"],
                        ["content-length-range", 10, "2048"], {"x-amz-meta-tag": "a"}, ["starts-with", "$x-amz-date", ""]]}
        """)
        XCTAssertEqual(policy.expiration, AmzDate.parseISO8601Basic("20261204T123000Z"))
        XCTAssertEqual(policy.contentLength, 10...2048)
        XCTAssertEqual(policy.conditions.map(\.field), ["bucket", "key", "content-type", "x-amz-meta-tag", "x-amz-date"])
        let fields = ["key": "user/a.png", "content-type": "image/png", "x-amz-meta-tag": "a", "x-amz-date": "x",
                      "policy": "p", "x-amz-signature": "s", "x-ignore-me": "1"]
        XCTAssertNoThrow(try policy.check(fields: fields, bucket: "photos", now: Self.now))

        func denial(_ fields: [String: String], bucket: String = "photos", now: Int64 = PostPolicyTests.now) -> String? {
            do {
                try policy.check(fields: fields, bucket: bucket, now: now)
                return nil
            } catch let error as S3Error {
                XCTAssertEqual(error.code, "AccessDenied")
                return error.message
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(denial(fields, now: Self.now + 3600), "Invalid according to Policy: Policy expired.")
        XCTAssertEqual(denial(fields, bucket: "other"),
                       #"Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "photos"]"#)
        XCTAssertEqual(denial(fields.merging(["key": "admin/x"]) { $1 }),
                       #"Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/"]"#)
        XCTAssertEqual(denial(fields.filter { $0.key != "content-type" }),
                       #"Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]"#)
        XCTAssertEqual(denial(fields.merging(["x-amz-meta-other": "b"]) { $1 }),
                       "Invalid according to Policy: Extra input fields: x-amz-meta-other")
    }

    func testMalformedPoliciesAreInvalidPolicyDocument() {
        let cases = [
            "not json",
            #"{"conditions": []}"#,
            #"{"expiration": "tomorrow", "conditions": []}"#,
            #"{"expiration": "2026-12-04T12:30:00Z"}"#,
            #"{"expiration": "2026-12-04T12:30:00Z", "conditions": [["starts-with", "key", "a"]]}"#,
            #"{"expiration": "2026-12-04T12:30:00Z", "conditions": [["content-length-range", 10, 1]]}"#,
            #"{"expiration": "2026-12-04T12:30:00Z", "conditions": [["between", "$key", "a"]]}"#,
            #"{"expiration": "2026-12-04T12:30:00Z", "conditions": [{"a": "1", "b": "2"}]}"#,
        ]
        for json in cases {
            XCTAssertThrowsError(try Self.policy(json), json) {
                XCTAssertEqual(($0 as? S3Error)?.code, "InvalidPolicyDocument", json)
            }
        }
        XCTAssertThrowsError(try PostPolicy.parse(base64: "%%%")) {
            XCTAssertEqual(($0 as? S3Error)?.code, "InvalidPolicyDocument")
        }
        XCTAssertNoThrow(try Self.policy(#"{"expiration": "2026-12-04T12:30:00Z", "conditions": []}"#))
    }
}
