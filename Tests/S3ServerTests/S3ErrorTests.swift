import XCTest
@testable import S3Server

/// The S3 error document and the code/status table clients switch on.
final class S3ErrorTests: XCTestCase {
    func testNoSuchKeyDocumentMatchesAWSShape() {
        let xml = S3Error.noSuchKey(key: "photos/puppy.jpg").xmlDocument(resource: "/bucket/photos/puppy.jpg",
                                                                          requestId: "4442587FB7D0A2F9")
        XCTAssertEqual(xml, #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>photos/puppy.jpg</Key><Resource>/bucket/photos/puppy.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>"#)
    }

    func testEscapingInEveryField() {
        let error = S3Error.noSuchKey(key: "a<b>&\"c'\r\n\t\u{1}")
        let xml = error.xmlDocument(resource: "/b/<k>", requestId: "id&1", hostId: "h>")
        XCTAssertTrue(xml.contains("<Key>a&lt;b&gt;&amp;&quot;c&apos;&#13;&#10;&#9;&#x1;</Key>"), xml)
        XCTAssertTrue(xml.contains("<Resource>/b/&lt;k&gt;</Resource>"))
        XCTAssertTrue(xml.contains("<RequestId>id&amp;1</RequestId><HostId>h&gt;</HostId></Error>"))
    }

    func testXMLEscapeLeavesPlainAndUnicodeTextAlone() {
        XCTAssertEqual(XMLWriter.escape("plain/key-1.txt"), "plain/key-1.txt")
        XCTAssertEqual(XMLWriter.escape("fünf ✓ 🎉"), "fünf ✓ 🎉")
        XCTAssertEqual(XMLWriter.escape("&amp;"), "&amp;amp;")
    }

    func testXMLWriterNesting() {
        var xml = XMLWriter(declaration: false)
        xml.open("ListBucketResult", namespace: "http://s3.amazonaws.com/doc/2006-03-01/")
        xml.element("Name", "b&b")
        xml.element("Contents") { $0.element("Key", "k<1>") }
        xml.close()
        XCTAssertEqual(xml.output, #"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b&amp;b</Name><Contents><Key>k&lt;1&gt;</Key></Contents></ListBucketResult>"#)
    }

    func testSignatureDoesNotMatchCarriesCanonicalRequestAndStringToSign() {
        let error = S3Error.signatureDoesNotMatch(accessKeyId: "AK", stringToSign: "AWS4-HMAC-SHA256\nX",
                                                  signatureProvided: "abc", canonicalRequest: "GET\n/")
        let xml = error.xmlDocument(resource: "/", requestId: "r")
        XCTAssertTrue(xml.contains("<StringToSign>AWS4-HMAC-SHA256&#10;X</StringToSign>"), xml)
        XCTAssertTrue(xml.contains("<CanonicalRequest>GET&#10;/</CanonicalRequest>"))
        XCTAssertTrue(xml.contains("<CanonicalRequestBytes>47 45 54 0a 2f</CanonicalRequestBytes>"))
        XCTAssertTrue(xml.contains("<AWSAccessKeyId>AK</AWSAccessKeyId>"))
        XCTAssertEqual(error.status.code, 403)
    }

    func testRequestTimeTooSkewedCarriesServerTime() {
        let error = S3Error.requestTimeTooSkewed(requestTime: "20130524T000000Z", serverTime: "20130524T001501Z")
        XCTAssertEqual(error.field("ServerTime"), "20130524T001501Z")
        XCTAssertEqual(error.field("MaxAllowedSkewMilliseconds"), "900000")
        XCTAssertEqual(error.status.code, 403)
    }

    func testCodesAndStatuses() {
        let table: [(S3Error, String, UInt)] = [
            (.noSuchBucket(bucket: "b"), "NoSuchBucket", 404),
            (.noSuchKey(key: "k"), "NoSuchKey", 404),
            (.noSuchUpload(uploadId: "u"), "NoSuchUpload", 404),
            (.noSuchVersion(key: "k", versionId: "v"), "NoSuchVersion", 404),
            (.bucketNotEmpty(bucket: "b"), "BucketNotEmpty", 409),
            (.bucketAlreadyExists(bucket: "b"), "BucketAlreadyExists", 409),
            (.bucketAlreadyOwnedByYou(bucket: "b"), "BucketAlreadyOwnedByYou", 409),
            (.invalidPart(partNumber: 1, eTag: "\"e\""), "InvalidPart", 400),
            (.invalidPartOrder, "InvalidPartOrder", 400),
            (.invalidPartNumber, "InvalidPartNumber", 416),
            (.entityTooSmall(proposedSize: 1, minSizeAllowed: 5_242_880), "EntityTooSmall", 400),
            (.entityTooLarge(maxSizeAllowed: 5_368_709_120), "EntityTooLarge", 400),
            (.signatureDoesNotMatch(accessKeyId: "", stringToSign: "", signatureProvided: "", canonicalRequest: ""),
             "SignatureDoesNotMatch", 403),
            (.accessDenied(), "AccessDenied", 403),
            (.invalidAccessKeyId(accessKeyId: "AK"), "InvalidAccessKeyId", 403),
            (.requestTimeTooSkewed(requestTime: "", serverTime: ""), "RequestTimeTooSkewed", 403),
            (.authorizationHeaderMalformed("x"), "AuthorizationHeaderMalformed", 400),
            (.authorizationQueryParametersError("x"), "AuthorizationQueryParametersError", 400),
            (.missingSecurityHeader(headerName: "host"), "MissingSecurityHeader", 400),
            (.badDigest(), "BadDigest", 400),
            (.invalidDigest(), "InvalidDigest", 400),
            (.xAmzContentSHA256Mismatch(clientComputed: "a", s3Computed: "b"), "XAmzContentSHA256Mismatch", 400),
            (.invalidRange(range: "bytes=10-", objectSize: 5), "InvalidRange", 416),
            (.preconditionFailed(condition: "If-Match"), "PreconditionFailed", 412),
            (.notModified, "NotModified", 304),
            (.incompleteBody(), "IncompleteBody", 400),
            (.malformedTrailerError(), "MalformedTrailerError", 400),
            (.internalError(), "InternalError", 500),
            (.slowDown, "SlowDown", 503),
            (.notImplemented(), "NotImplemented", 501),
            (.methodNotAllowed(method: "PATCH"), "MethodNotAllowed", 405),
            (.invalidBucketName(bucket: "A_B"), "InvalidBucketName", 400),
            (.keyTooLongError(size: 1025), "KeyTooLongError", 400),
            (.malformedXML, "MalformedXML", 400),
            (.invalidArgument("x", name: "n", value: "v"), "InvalidArgument", 400),
            (.invalidRequest("x"), "InvalidRequest", 400),
            (.missingContentLength, "MissingContentLength", 411),
        ]
        for (error, code, status) in table {
            XCTAssertEqual(error.code, code)
            XCTAssertEqual(error.status.code, status, code)
            XCTAssertFalse(error.message.isEmpty, code)
            XCTAssertEqual(error.hasBody, code != "NotModified", code)
        }
        XCTAssertEqual(Set(table.map { $0.1 }).count, table.count, "every code is distinct")
    }

    func testExtraFieldsRenderInOrderBeforeResource() {
        let xml = S3Error.invalidArgument("Bad value", name: "max-keys", value: "-1")
            .xmlDocument(resource: nil, requestId: "r")
        XCTAssertEqual(xml, #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>Bad value</Message><ArgumentName>max-keys</ArgumentName><ArgumentValue>-1</ArgumentValue><RequestId>r</RequestId></Error>"#)
    }

    func testDescriptionIsCodeAndMessage() {
        XCTAssertEqual(S3Error.slowDown.description, "SlowDown: Please reduce your request rate.")
    }
}
