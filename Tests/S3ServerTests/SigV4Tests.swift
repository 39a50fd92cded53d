import Crypto
import Foundation
import XCTest
@testable import S3Server

/// SigV4 canonicalisation and signatures against AWS's published vectors.
final class SigV4Tests: XCTestCase {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let emptyHash = SigV4.emptySHA256

    // MARK: aws-sig-v4-test-suite (AKIDEXAMPLE, 20150830T123600Z, us-east-1, "service").
    // Only cases whose rules S3 shares: no path normalisation cases except as noted.

    private func suiteSignature(method: String = "GET", uri: String, headers: [(String, String)] = [],
                                payloadHash: String = SigV4.emptySHA256) -> (canonical: String, signature: String) {
        let request = SigningRequest(method: method, uri: uri,
                                     headers: [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")] + headers)
        let names = Array(Set(request.headers.map { $0.name.lowercased() })).sorted()
        let canonical = SigV4.canonicalRequest(
            method: method, canonicalURI: SigV4.canonicalURI(rawPath: request.rawPath),
            canonicalQuery: SigV4.canonicalQuery(rawQuery: request.rawQuery),
            canonicalHeaders: SigV4.canonicalHeaders(request, signedHeaders: names).block,
            signedHeaders: names, payloadHash: payloadHash)
        let key = SigV4.signingKey(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20150830",
                                   region: "us-east-1", service: "service")
        let sts = SigV4.stringToSign(timestamp: "20150830T123600Z", scope: "20150830/us-east-1/service/aws4_request",
                                     canonicalRequest: canonical)
        return (canonical, SigV4.signature(signingKey: key, stringToSign: sts))
    }

    func testSuiteGetVanilla() {
        XCTAssertEqual(suiteSignature(uri: "/").signature,
                       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    func testSuiteGetVanillaQueryOrderKeyCase() {
        let result = suiteSignature(uri: "/?Param2=value2&Param1=value1")
        XCTAssertTrue(result.canonical.contains("\nParam1=value1&Param2=value2\n"))
        XCTAssertEqual(result.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    func testSuiteGetVanillaQueryOrderValue() {
        XCTAssertEqual(suiteSignature(uri: "/?Param1=value2&Param1=value1").signature,
                       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")
    }

    func testSuiteGetUnreserved() {
        XCTAssertEqual(suiteSignature(uri: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz").signature,
                       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")
    }

    func testSuiteGetVanillaUTF8Query() {
        // ሴ=bar, sent percent-encoded as a client puts it on the wire.
        XCTAssertEqual(suiteSignature(uri: "/?%E1%88%B4=bar").signature,
                       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")
    }

    func testSuiteGetHeaderValueTrim() {
        XCTAssertEqual(suiteSignature(uri: "/", headers: [("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")]).signature,
                       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")
    }

    func testSuiteGetHeaderKeyDuplicate() {
        XCTAssertEqual(suiteSignature(uri: "/", headers: [("My-Header1", "value2"), ("My-Header1", "value2"),
                                                          ("My-Header1", "value1")]).signature,
                       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")
    }

    func testSuiteGetHeaderValueOrder() {
        XCTAssertEqual(suiteSignature(uri: "/", headers: [("My-Header1", "value4"), ("My-Header1", "value1"),
                                                          ("My-Header1", "value3"), ("My-Header1", "value2")]).signature,
                       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")
    }

    func testSuitePostXWWWFormURLEncoded() {
        XCTAssertEqual(suiteSignature(method: "POST", uri: "/",
                                      headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                      payloadHash: SigV4.sha256Hex(bytes("Param1=value1"))).signature,
                       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
    }

    // MARK: S3 canonical URI rules (no normalisation)
    // docs/S3-NOTES.md, "Keys are taken from the raw path".

    func testCanonicalURIDoesNotCollapseSlashesOrDots() {
        // The generic suite's get-slashes normalises "//example//" to "/example/"; S3 must not.
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "//example//"), "//example//")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/a/./b/../c"), "/a/./b/../c")
    }

    func testCanonicalURIReencodesEachSegmentOnce() {
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/test$file.text"), "/test%24file.text")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/test%24file.text"), "/test%24file.text")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/a%2Fb/c"), "/a%2Fb/c", "an encoded slash stays in its segment")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/my%20key"), "/my%20key")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/a+b"), "/a%2Bb", "+ in a path is a literal plus")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/%e2%9c%93"), "/%E2%9C%93", "hex case is normalised")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: "/100%"), "/100%25", "a stray % is literal")
        XCTAssertEqual(SigV4.canonicalURI(rawPath: ""), "/")
    }

    func testCanonicalQueryRules() {
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "lifecycle"), "lifecycle=")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "prefix=J&max-keys=2"), "max-keys=2&prefix=J")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "a=10&a=9"), "a=10&a=9")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "x=a.b&x=a%2fb"), "x=a%2Fb&x=a.b")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "a=1=2"), "a=1%3D2")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "q=a+b"), "q=a%20b")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "q=a+b", plusAsSpace: false), "q=a%2Bb")
        XCTAssertEqual(SigV4.canonicalQuery(rawQuery: "X-Amz-Signature=abc&b=1", excluding: ["X-Amz-Signature"]), "b=1")
    }

    /// A query already in canonical form is used as sent (less the signature); whenever
    /// that shortcut answers, it agrees with the rule applied step by step, and it
    /// declines what needs decoding, re-encoding or sorting.
    func testCanonicalQueryAsSentAgreesWithTheGeneralRule() {
        let unsigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260102%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20260102T030405Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        XCTAssertEqual(SigV4.canonicalAsSent(unsigned + "&X-Amz-Signature=abc", excluding: ["X-Amz-Signature"]), unsigned)
        for declined in ["b=1&a=1", "a=2&a=10", "a", "a=1&b", "q=a+b", "x=a%2fb", "x=%41", "a=1=2", "a-b=1&a=1"] {
            XCTAssertNil(SigV4.canonicalAsSent(declined, excluding: []), declined)
        }
        let parts = ["a=1", "a=10", "a=9", "a-b=1", "a=", "b=x%2Fy", "X-Amz-Signature=s", "c", "d=e+f", "A=1", "a%2Fb=2", "", "z=%7E"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let query = (0..<Int.random(in: 0...5, using: &generator)).map { _ in parts.randomElement(using: &generator)! }
                .joined(separator: "&")
            for plus in [true, false] {
                XCTAssertEqual(SigV4.canonicalQuery(rawQuery: query, excluding: ["X-Amz-Signature"], plusAsSpace: plus),
                               SigV4.canonicalQueryBySorting(rawQuery: query, excluding: ["X-Amz-Signature"], plusAsSpace: plus),
                               query)
            }
        }
    }

    /// The prepared key gives the HMAC-SHA256 of RFC 2104 for keys shorter than, as long
    /// as and longer than a block, and for any message.
    func testSigningKeyMatchesHMACForEveryKeyLength() {
        for length in [0, 1, 32, 63, 64, 65, 200] {
            let key = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            for message in ["", "a", "AWS4-HMAC-SHA256\n20150830T123600Z", String(repeating: "ü✓", count: 100)] {
                let expected = Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
                XCTAssertEqual(SigningKey(key).authenticationCode(for: message), expected, "key \(length) bytes, message \(message.prefix(20))")
            }
        }
    }

    func testSigningKeyDerivationAWSExample() {
        // The sigv4 docs' derived key for wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam.
        let key = SigV4.signingKey(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20120215",
                                   region: "us-east-1", service: "iam")
        XCTAssertEqual(Hex.encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    func testConstantTimeEquals() {
        XCTAssertTrue(SigV4.constantTimeEquals("abcDEF", "ABCdef"))
        XCTAssertFalse(SigV4.constantTimeEquals("abc", "abd"))
        XCTAssertFalse(SigV4.constantTimeEquals("abc", "abcd"))
    }

    func testSigningKeyCacheReturnsSameKeyAndIsBounded() {
        let cache = SigningKeyCache(capacity: 2)
        let a = cache.signingKey(secret: "s", date: "20130524", region: "us-east-1", service: "s3")
        XCTAssertEqual(a.bytes, SigV4.signingKey(secret: "s", date: "20130524", region: "us-east-1", service: "s3"))
        XCTAssertEqual(cache.signingKey(secret: "s", date: "20130524", region: "us-east-1", service: "s3"), a)
        _ = cache.signingKey(secret: "t", date: "20130524", region: "us-east-1", service: "s3")
        _ = cache.signingKey(secret: "u", date: "20130524", region: "us-east-1", service: "s3")
        XCTAssertLessThanOrEqual(cache.count, 2)
    }

    // MARK: parsing

    func testParseAuthorizationHeader() throws {
        let auth = try SigV4Authorization(headerValue:
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
        XCTAssertEqual(auth.credential, CredentialScope(accessKeyId: "AKIAIOSFODNN7EXAMPLE", date: "20130524",
                                                        region: "us-east-1", service: "s3"))
        XCTAssertEqual(auth.signedHeaders, ["host", "range", "x-amz-date"])
        XCTAssertEqual(auth.signature, "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024")
        XCTAssertEqual(auth.credential.scope, "20130524/us-east-1/s3/aws4_request")
    }

    func testParseAuthorizationHeaderWithoutSpacesAfterCommas() throws {
        let auth = try SigV4Authorization(headerValue:
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=\(String(repeating: "a", count: 64))")
        XCTAssertEqual(auth.signedHeaders, ["host"])
    }

    func testMalformedAuthorizationHeaders() {
        let sig = String(repeating: "0", count: 64)
        let bad = [
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3, SignedHeaders=host, Signature=\(sig)",
            "AWS4-HMAC-SHA256 Credential=AK/2013052/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(sig)",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature=\(sig)",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=xyz",
            "AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=\(sig), Foo=1",
            "AWS4-HMAC-SHA256Credential=AK/20130524/us-east-1/s3/aws4_request",
        ]
        for value in bad {
            XCTAssertThrowsError(try SigV4Authorization(headerValue: value), value) { error in
                XCTAssertEqual((error as? S3Error)?.code, "AuthorizationHeaderMalformed", value)
            }
        }
    }

    func testPayloadHashModes() {
        XCTAssertEqual(PayloadHashMode(headerValue: "UNSIGNED-PAYLOAD"), .unsignedPayload)
        XCTAssertEqual(PayloadHashMode(headerValue: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), .streamingUnsignedTrailer)
        XCTAssertEqual(PayloadHashMode(headerValue: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), .streamingSignedTrailer)
        XCTAssertEqual(PayloadHashMode(headerValue: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), .streamingSigned)
        XCTAssertEqual(PayloadHashMode(headerValue: SigV4.emptySHA256.uppercased()), .sha256(SigV4.emptySHA256))
        XCTAssertNil(PayloadHashMode(headerValue: "abc"))
        XCTAssertNil(PayloadHashMode(headerValue: "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"))
        XCTAssertTrue(PayloadHashMode.streamingUnsignedTrailer.hasTrailer)
        XCTAssertFalse(PayloadHashMode.streamingUnsignedTrailer.hasChunkSignatures)
    }

    func testAmzDateRoundTrip() {
        XCTAssertEqual(AmzDate.parseISO8601Basic("20130524T000000Z"), 1_369_353_600)
        XCTAssertEqual(AmzDate.parseHTTPDate("Fri, 24 May 2013 00:00:00 GMT"), 1_369_353_600)
        XCTAssertEqual(AmzDate.parseHTTPDate("Tue, 27 Mar 2007 19:36:42 +0000"), 1_175_024_202)
        XCTAssertEqual(AmzDate.parseHTTPDate("Tue, 27 Mar 2007 21:36:42 +0200"), 1_175_024_202)
        XCTAssertEqual(AmzDate.formatISO8601Basic(1_369_353_600), "20130524T000000Z")
        XCTAssertEqual(AmzDate.formatISO8601Basic(951_782_400 + 3661), "20000229T010101Z")
        XCTAssertNil(AmzDate.parseISO8601Basic("2013-05-24T00:00:00Z"))
        XCTAssertNil(AmzDate.parseHTTPDate("yesterday"))
    }
}
