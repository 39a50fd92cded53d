import XCTest
@testable import S3Server

/// Request bodies S3 clients send: CreateBucketConfiguration and the DeleteObjects `Delete` list.
final class S3RequestDocumentsTests: XCTestCase {
    private let ns = #" xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#

    private func assertMalformed(_ body: @autoclosure () throws -> some Any,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? S3Error)?.code, "MalformedXML", file: file, line: line)
            XCTAssertEqual((error as? S3Error)?.status.code, 400, file: file, line: line)
        }
    }

    private func deleteBody(_ objects: String, quiet: String? = nil, namespaced: Bool = true) -> [UInt8] {
        let quietElement = quiet.map { "<Quiet>\($0)</Quiet>" } ?? ""
        return bytes("<Delete\(namespaced ? ns : "")>\(quietElement)\(objects)</Delete>")
    }

    private func keys(_ count: Int) -> String {
        (0..<count).map { "<Object><Key>k\($0)</Key></Object>" }.joined()
    }

    // MARK: CreateBucketConfiguration

    func testCreateBucketConfigurationWithAndWithoutNamespace() throws {
        for attr in [ns, ""] {
            let config = try CreateBucketConfiguration.parse(bytes(
                "<CreateBucketConfiguration\(attr)><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"))
            XCTAssertEqual(config.locationConstraint, "eu-west-1")
        }
    }

    func testCreateBucketConfigurationWithoutConstraint() throws {
        XCTAssertNil(try CreateBucketConfiguration.parse(bytes("<CreateBucketConfiguration\(ns)/>")).locationConstraint)
        XCTAssertNil(try CreateBucketConfiguration.parse(bytes(
            "<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>")).locationConstraint)
    }

    func testCreateBucketConfigurationRefusesWrongRootNamespaceAndBadXML() {
        assertMalformed(try CreateBucketConfiguration.parse(bytes("<Delete><LocationConstraint>x</LocationConstraint></Delete>")))
        assertMalformed(try CreateBucketConfiguration.parse(bytes(#"<CreateBucketConfiguration xmlns="urn:other"/>"#)))
        assertMalformed(try CreateBucketConfiguration.parse(bytes("<CreateBucketConfiguration>")))
    }

    // MARK: Delete

    func testDeleteParsesKeysAndVersionIdsInOrder() throws {
        for namespaced in [true, false] {
            let request = try DeleteRequest.parse(deleteBody(
                "<Object><Key>a.txt</Key></Object><Object><Key>b/c</Key><VersionId>v1</VersionId></Object>",
                namespaced: namespaced))
            XCTAssertEqual(request.objects, [DeleteRequest.Object(key: "a.txt"),
                                             DeleteRequest.Object(key: "b/c", versionId: "v1")])
            XCTAssertFalse(request.quiet)
        }
    }

    func testDeleteKeysKeepWhitespaceEntitiesAndUnicode() throws {
        let request = try DeleteRequest.parse(deleteBody(
            "<Object><Key>  spaced  </Key></Object>"
            + "<Object><Key>a&amp;b&lt;c&gt;&#10;d&#13;&#x9;</Key></Object>"
            + "<Object><Key>fünf/✓/🎉 日本</Key></Object>"
            + "<Object><Key><![CDATA[x&y]]></Key></Object>"))
        XCTAssertEqual(request.objects.map(\.key), ["  spaced  ", "a&b<c>\nd\r\t", "fünf/✓/🎉 日本", "x&y"])
    }

    func testDeleteQuietTrueFalseAbsent() throws {
        XCTAssertTrue(try DeleteRequest.parse(deleteBody(keys(1), quiet: "true")).quiet)
        XCTAssertTrue(try DeleteRequest.parse(deleteBody(keys(1), quiet: "TRUE")).quiet)
        XCTAssertTrue(try DeleteRequest.parse(deleteBody(keys(1), quiet: " True\n")).quiet)
        XCTAssertFalse(try DeleteRequest.parse(deleteBody(keys(1), quiet: "false")).quiet)
        XCTAssertFalse(try DeleteRequest.parse(deleteBody(keys(1))).quiet)
    }

    func testDeleteAcceptsOneThousandObjectsAndRefusesOneThousandAndOne() throws {
        XCTAssertEqual(try DeleteRequest.parse(deleteBody(keys(1000))).objects.count, 1000)
        assertMalformed(try DeleteRequest.parse(deleteBody(keys(1001))))
    }

    func testDeleteRefusesZeroObjects() {
        assertMalformed(try DeleteRequest.parse(deleteBody("")))
        assertMalformed(try DeleteRequest.parse(deleteBody("", quiet: "true")))
    }

    func testDeleteRefusesObjectWithoutKey() {
        assertMalformed(try DeleteRequest.parse(deleteBody(keys(2) + "<Object><VersionId>v</VersionId></Object>")))
    }

    func testDeleteRefusesWrongRootNamespaceAndBadXML() {
        assertMalformed(try DeleteRequest.parse(bytes("<DeleteObjects>\(keys(1))</DeleteObjects>")))
        assertMalformed(try DeleteRequest.parse(bytes(#"<Delete xmlns="urn:other">\#(keys(1))</Delete>"#)))
        assertMalformed(try DeleteRequest.parse(bytes("<Delete><Object><Key>a</Key></Delete>")))
        assertMalformed(try DeleteRequest.parse(bytes("garbage")))
        assertMalformed(try DeleteRequest.parse([]))
        assertMalformed(try DeleteRequest.parse(bytes(#"<!DOCTYPE Delete [<!ENTITY e "k">]><Delete><Object><Key>&e;</Key></Object></Delete>"#)))
    }
}

/// The CompleteMultipartUpload document.
final class CompleteMultipartUploadRequestTests: XCTestCase {
    func testPartsWithChecksumsInOrder() throws {
        let request = try CompleteMultipartUploadRequest.parse(bytes("""
            <CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Part><PartNumber> 2 </PartNumber><ETag>"abc"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
              <Part><ETag>def</ETag><PartNumber>1</PartNumber><ChecksumSHA256>x</ChecksumSHA256><ChecksumType>y</ChecksumType></Part>
            </CompleteMultipartUpload>
            """))
        XCTAssertEqual(request.parts, [
            .init(partNumber: 2, etag: "\"abc\"", checksums: ["CRC32": "AAAAAA=="]),
            .init(partNumber: 1, etag: "def", checksums: ["SHA256": "x"]),
        ])
    }

    func testMalformedDocuments() {
        for body in ["<CompleteMultipartUpload/>",
                     "<CompleteMultipartUpload><Part><PartNumber>1.5</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
                     "<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
                     "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
                     "<Other><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Other>",
                     "<CompleteMultipartUpload xmlns=\"urn:other\"><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"] {
            XCTAssertThrowsError(try CompleteMultipartUploadRequest.parse(bytes(body)), body) { error in
                XCTAssertEqual((error as? S3Error)?.code, "MalformedXML", body)
            }
        }
    }
}
