import XCTest
@testable import S3Server

/// The bucket CORS configuration: S3's validation and its rule matching.
final class CORSConfigurationTests: XCTestCase {
    static func document(_ rules: String) -> [UInt8] {
        Array((#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"# + rules + "</CORSConfiguration>").utf8)
    }

    func testFirstMatchingRuleWins() throws {
        let configuration = try CORSConfiguration.parse(Self.document("""
        <CORSRule><ID>site</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>
          <AllowedMethod>POST</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>Content-Type</AllowedHeader>
          <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>
        <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
        """))
        XCTAssertEqual(configuration.rules.count, 2)
        let site = configuration.firstMatch(origin: "https://app.example.com", method: "PUT",
                                            requestHeaders: ["X-Amz-Date", "content-type"])
        XCTAssertEqual(site?.id, "site")
        XCTAssertEqual(site?.maxAgeSeconds, 3000)
        XCTAssertEqual(site?.exposeHeaders, ["ETag"])
        XCTAssertFalse(site!.allowsAnyOrigin)
        // A header no AllowedHeader names, another scheme, a method no rule allows.
        XCTAssertNil(configuration.firstMatch(origin: "https://app.example.com", method: "PUT", requestHeaders: ["authorization"]))
        XCTAssertNil(configuration.firstMatch(origin: "http://app.example.com", method: "PUT"))
        XCTAssertNil(configuration.firstMatch(origin: "https://app.example.com", method: "DELETE"))
        // Any origin may GET (the second rule).
        XCTAssertTrue(configuration.firstMatch(origin: "http://elsewhere.test", method: "GET")!.allowsAnyOrigin)
    }

    func testWildcards() {
        XCTAssertTrue(CORSConfiguration.wildcardMatch("*", "anything", caseSensitive: true))
        XCTAssertTrue(CORSConfiguration.wildcardMatch("http://*.a.com", "http://x.y.a.com", caseSensitive: true))
        XCTAssertFalse(CORSConfiguration.wildcardMatch("http://*.a.com", "http://a.com", caseSensitive: true))
        XCTAssertTrue(CORSConfiguration.wildcardMatch("X-Amz-*", "x-amz-meta-a", caseSensitive: false))
        XCTAssertFalse(CORSConfiguration.wildcardMatch("ab*ba", "aba", caseSensitive: true))
    }

    /// Invalid configurations are refused with S3's codes: MalformedXML for a wrong
    /// shape, InvalidRequest for an unsupported method, a second wildcard or too many rules.
    func testInvalidConfigurationsAreRefused() {
        let rule = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
        let cases: [(String, [UInt8], String)] = [
            ("not xml", Array("<CORSConfiguration>".utf8), "MalformedXML"),
            ("wrong root", Array("<CORS></CORS>".utf8), "MalformedXML"),
            ("no rules", Self.document(""), "MalformedXML"),
            ("no origin", Self.document("<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"), "MalformedXML"),
            ("no method", Self.document("<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>"), "MalformedXML"),
            ("unknown element", Self.document("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><Foo/></CORSRule>"), "MalformedXML"),
            ("bad max age", Self.document("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>x</MaxAgeSeconds></CORSRule>"), "MalformedXML"),
            ("method", Self.document("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>"), "InvalidRequest"),
            ("two wildcards", Self.document("<CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"), "InvalidRequest"),
            ("header wildcards", Self.document("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>**</AllowedHeader></CORSRule>"), "InvalidRequest"),
            ("101 rules", Self.document(String(repeating: rule, count: 101)), "InvalidRequest"),
        ]
        for (name, document, code) in cases {
            XCTAssertThrowsError(try CORSConfiguration.parse(document), name) {
                XCTAssertEqual(($0 as? S3Error)?.code, code, name)
            }
        }
        XCTAssertNoThrow(try CORSConfiguration.parse(Self.document(String(repeating: rule, count: 100))))
    }
}
