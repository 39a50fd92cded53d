import Foundation
import XCTest
@testable import S3Server

/// Header, presigned and SigV2 verification against the S3 documentation's examples
/// (AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524), botocore-
/// generated vectors, and the failure codes AWS answers with.
final class RequestAuthenticatorTests: XCTestCase {
    static let accessKey = "AKIAIOSFODNN7EXAMPLE"
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    /// 2013-05-24T00:00:00Z, the time of every S3 SigV4 example.
    static let exampleTime = Date(timeIntervalSince1970: 1_369_353_600)
    static let emptyHash = SigV4.emptySHA256
    static let host = "examplebucket.s3.amazonaws.com"

    private func authenticator(region: String? = "us-east-1", secret: String = RequestAuthenticatorTests.secret) -> RequestAuthenticator {
        RequestAuthenticator(region: region) { key in key == RequestAuthenticatorTests.accessKey ? secret : nil }
    }

    private func authorization(_ signedHeaders: String, _ signature: String) -> String {
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    private func assertS3Error(_ code: String, file: StaticString = #filePath, line: UInt = #line,
                               _ body: () throws -> Any?) -> S3Error? {
        do {
            _ = try body()
            XCTFail("expected \(code)", file: file, line: line)
        } catch let error as S3Error {
            XCTAssertEqual(error.code, code, error.message, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    // MARK: sig-v4-header-based-auth examples

    /// "GET Object": GET /test.txt with Range: bytes=0-9.
    private var getObjectRequest: SigningRequest {
        SigningRequest(method: "GET", uri: "/test.txt", headers: [
            ("Host", Self.host), ("Range", "bytes=0-9"), ("x-amz-content-sha256", Self.emptyHash),
            ("x-amz-date", "20130524T000000Z"),
            ("Authorization", authorization("host;range;x-amz-content-sha256;x-amz-date",
                                            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")),
        ])
    }

    func testAWSExampleGetObjectWithRange() throws {
        let result = try XCTUnwrap(try authenticator().authenticate(getObjectRequest, now: Self.exampleTime))
        XCTAssertEqual(result.accessKeyId, Self.accessKey)
        XCTAssertEqual(result.method, .sigV4Header)
        XCTAssertEqual(result.payload, .sha256(Self.emptyHash))
        XCTAssertEqual(result.chunkSigning?.seedSignature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        XCTAssertEqual(result.chunkSigning?.scope, "20130524/us-east-1/s3/aws4_request")
    }

    func testAWSExamplePutObjectDollarInKeyAndDateHeader() throws {
        // "PUT Object": key test$file.text, canonical URI /test%24file.text, Date signed too.
        let payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        let request = SigningRequest(method: "PUT", uri: "/test$file.text", headers: [
            ("Host", Self.host), ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("x-amz-content-sha256", payload),
            ("Authorization", authorization("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                                            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")),
        ])
        let result = try XCTUnwrap(try authenticator().authenticate(request, now: Self.exampleTime))
        XCTAssertEqual(result.payload, .sha256(payload))
        // The same request with the key sent percent-encoded verifies identically.
        var encoded = request
        encoded.rawPath = "/test%24file.text"
        XCTAssertNotNil(try authenticator().authenticate(encoded, now: Self.exampleTime))
    }

    func testAWSExampleGetBucketLifecycle() throws {
        let request = SigningRequest(method: "GET", uri: "/?lifecycle", headers: [
            ("Host", Self.host), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", Self.emptyHash),
            ("Authorization", authorization("host;x-amz-content-sha256;x-amz-date",
                                            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")),
        ])
        XCTAssertNotNil(try authenticator().authenticate(request, now: Self.exampleTime))
    }

    func testAWSExampleListObjects() throws {
        let request = SigningRequest(method: "GET", uri: "/?max-keys=2&prefix=J", headers: [
            ("Host", Self.host), ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", Self.emptyHash),
            ("Authorization", authorization("host;x-amz-content-sha256;x-amz-date",
                                            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")),
        ])
        XCTAssertNotNil(try authenticator().authenticate(request, now: Self.exampleTime))
    }

    func testAWSExampleChunkedUploadSeedSignature() throws {
        // sigv4-streaming "Example: PUT Object": seed signature 4f232c43…
        let request = SigningRequest(method: "PUT", uri: "/examplebucket/chunkObject.txt", headers: [
            ("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("Authorization", authorization(
                "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")),
        ])
        let result = try XCTUnwrap(try authenticator().authenticate(request, now: Self.exampleTime))
        XCTAssertEqual(result.payload, .streamingSigned)
        let context = try XCTUnwrap(result.chunkSigning)
        XCTAssertEqual(context.seedSignature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
        // First chunk: 64 KiB of 'a', signature ad80c730…
        let chunkHash = SigV4.sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 65_536))
        XCTAssertEqual(context.chunkSignature(previousSignature: context.seedSignature, chunkSHA256: chunkHash),
                       "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648")
    }

    // MARK: botocore-generated vectors (S3SigV4Auth, botocore 1.43, fixed clock 20130524T000000Z)

    private let botocoreSignedHeaders = "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-meta-b"

    private func botocoreRequest(_ uri: String, _ signature: String) -> SigningRequest {
        SigningRequest(method: "GET", uri: uri, headers: [
            ("Host", Self.host), ("x-amz-meta-a", "  x   y  "), ("X-Amz-Meta-B", "1"),
            ("X-Amz-Date", "20130524T000000Z"), ("X-Amz-Content-SHA256", Self.emptyHash),
            ("Authorization", authorization(botocoreSignedHeaders, signature)),
        ])
    }

    func testBotocoreUTF8KeyAndEncodedQuery() throws {
        let request = botocoreRequest("/f%C3%BC%C3%9F/%E2%9C%93.txt?prefix=a%20b%2Bc&delimiter=%2F&list-type=2",
                                      "5f32f0d145cb0002e094aba461278929b585ef94c116f732c257fb497cc3ea24")
        XCTAssertNotNil(try authenticator().authenticate(request, now: Self.exampleTime))
    }

    func testBotocoreValuelessSubresourceSignsAsEmptyValue() throws {
        let request = botocoreRequest("/k?uploads&x-id=CreateMultipartUpload",
                                      "ec3fd7a3711712b7da2979e9fde8f4f015217b147cc06c3a98a2f838c0cfc02d")
        XCTAssertNotNil(try authenticator().authenticate(request, now: Self.exampleTime))
    }

    func testBotocoreUnnormalisedRawPathWithDoubleSlashesDotsAndRawPlus() throws {
        // botocore signs an S3 path exactly as sent: "//", "." and ".." kept, raw "+" kept.
        let request = botocoreRequest("/my%20key/a+b%2Bc//./..//x",
                                      "2b1e57e4b954cc5b39a25679e993f472a9dceb85421601c18a2e4b4708b9a763")
        XCTAssertNotNil(try authenticator().authenticate(request, now: Self.exampleTime))
    }

    // MARK: presigned (sigv4-query-string-auth)

    private let presignedQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

    private func presigned(_ query: String? = nil) -> SigningRequest {
        SigningRequest(method: "GET", rawPath: "/test.txt", rawQuery: query ?? presignedQuery, headers: [("Host", Self.host)])
    }

    func testAWSExamplePresignedURL() throws {
        let result = try XCTUnwrap(try authenticator().authenticate(presigned(), now: Self.exampleTime.addingTimeInterval(3600)))
        XCTAssertEqual(result.method, .sigV4Presigned)
        XCTAssertEqual(result.payload, .unsignedPayload)
        XCTAssertNil(result.chunkSigning)
    }

    func testPresignedValidUntilExactlyExpiresThenRequestHasExpired() throws {
        XCTAssertNotNil(try authenticator().authenticate(presigned(), now: Self.exampleTime.addingTimeInterval(86_400)))
        let error = assertS3Error("AccessDenied") {
            try self.authenticator().authenticate(self.presigned(), now: Self.exampleTime.addingTimeInterval(86_401))
        }
        XCTAssertEqual(error?.message, "Request has expired")
    }

    func testPresignedIsNotSubjectToClockSkew() throws {
        // A presigned URL used 20 hours after signing is fine (only X-Amz-Expires applies).
        XCTAssertNotNil(try authenticator().authenticate(presigned(), now: Self.exampleTime.addingTimeInterval(72_000)))
    }

    func testPresignedExpiresOverAWeekIsRejected() {
        let query = presignedQuery.replacingOccurrences(of: "X-Amz-Expires=86400", with: "X-Amz-Expires=604801")
        _ = assertS3Error("AuthorizationQueryParametersError") {
            try self.authenticator().authenticate(self.presigned(query), now: Self.exampleTime)
        }
    }

    func testPresignedMissingParameter() {
        let query = presignedQuery.replacingOccurrences(of: "X-Amz-Date=20130524T000000Z&", with: "")
        _ = assertS3Error("AuthorizationQueryParametersError") {
            try self.authenticator().authenticate(self.presigned(query), now: Self.exampleTime)
        }
    }

    func testPresignedHostWithPortIsSigned() {
        // The signature covers Host exactly as the client saw it.
        var request = presigned()
        request.headers = [("Host", Self.host + ":9000")]
        let error = assertS3Error("SignatureDoesNotMatch") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
        XCTAssertTrue(error?.field("CanonicalRequest")?.contains("host:\(Self.host):9000\n") ?? false)
    }

    func testPresignedTamperedPath() {
        var request = presigned()
        request.rawPath = "/test2.txt"
        _ = assertS3Error("SignatureDoesNotMatch") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
    }

    // MARK: negative header cases

    func testTamperedHeaderGivesSignatureDoesNotMatchWithCanonicalRequest() {
        var request = getObjectRequest
        request.headers[1] = ("Range", "bytes=0-10")
        let error = assertS3Error("SignatureDoesNotMatch") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
        XCTAssertEqual(error?.status.code, 403)
        XCTAssertEqual(error?.field("CanonicalRequest"), """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-10
            x-amz-content-sha256:\(Self.emptyHash)
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            \(Self.emptyHash)
            """)
        XCTAssertEqual(error?.field("StringToSign")?.hasPrefix("AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"), true)
        XCTAssertEqual(error?.field("SignatureProvided"), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    func testWrongSecret() {
        _ = assertS3Error("SignatureDoesNotMatch") {
            try self.authenticator(secret: "not-the-secret").authenticate(self.getObjectRequest, now: Self.exampleTime)
        }
    }

    func testUnknownAccessKey() {
        let error = assertS3Error("InvalidAccessKeyId") {
            try RequestAuthenticator { _ in nil }.authenticate(self.getObjectRequest, now: Self.exampleTime)
        }
        XCTAssertEqual(error?.field("AWSAccessKeyId"), Self.accessKey)
    }

    func testClockSkewBeyondFifteenMinutes() throws {
        XCTAssertNotNil(try authenticator().authenticate(getObjectRequest, now: Self.exampleTime.addingTimeInterval(900)))
        XCTAssertNotNil(try authenticator().authenticate(getObjectRequest, now: Self.exampleTime.addingTimeInterval(-900)))
        let error = assertS3Error("RequestTimeTooSkewed") {
            try self.authenticator().authenticate(self.getObjectRequest, now: Self.exampleTime.addingTimeInterval(901))
        }
        XCTAssertEqual(error?.field("RequestTime"), "20130524T000000Z")
        XCTAssertEqual(error?.field("ServerTime"), "20130524T001501Z")
        _ = assertS3Error("RequestTimeTooSkewed") {
            try self.authenticator().authenticate(self.getObjectRequest, now: Self.exampleTime.addingTimeInterval(-901))
        }
    }

    func testMalformedHeaderIsAuthorizationHeaderMalformed() {
        var request = getObjectRequest
        request.headers[4] = ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")
        _ = assertS3Error("AuthorizationHeaderMalformed") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
    }

    func testWrongRegionAndCredentialDateAreMalformed() {
        var request = getObjectRequest
        request.headers[4].value = request.headers[4].value.replacingOccurrences(of: "us-east-1", with: "eu-west-1")
        _ = assertS3Error("AuthorizationHeaderMalformed") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
        // With no configured region, any region is accepted (and then the signature decides).
        _ = assertS3Error("SignatureDoesNotMatch") {
            try self.authenticator(region: nil).authenticate(request, now: Self.exampleTime)
        }
        var dated = getObjectRequest
        dated.headers[4].value = dated.headers[4].value.replacingOccurrences(of: "/20130524/", with: "/20130523/")
        _ = assertS3Error("AuthorizationHeaderMalformed") {
            try self.authenticator().authenticate(dated, now: Self.exampleTime)
        }
    }

    func testMissingContentSHA256IsInvalidRequest() {
        var request = getObjectRequest
        request.headers.remove(at: 2)
        _ = assertS3Error("InvalidRequest") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
    }

    func testMissingDateIsAccessDenied() {
        var request = getObjectRequest
        request.headers.remove(at: 3)
        _ = assertS3Error("AccessDenied") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
    }

    func testSignedHeaderAbsentIsMissingSecurityHeader() {
        var request = getObjectRequest
        request.headers.remove(at: 1) // Range is listed in SignedHeaders
        let error = assertS3Error("MissingSecurityHeader") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
        XCTAssertEqual(error?.field("MissingHeaderName"), "range")
    }

    func testTwoAuthMechanismsAreRejected() {
        var request = getObjectRequest
        request.rawQuery = presignedQuery
        _ = assertS3Error("InvalidArgument") {
            try self.authenticator().authenticate(request, now: Self.exampleTime)
        }
    }

    func testAnonymousRequestReturnsNil() throws {
        let request = SigningRequest(method: "GET", uri: "/bucket/key", headers: [("Host", "localhost")])
        XCTAssertNil(try authenticator().authenticate(request, now: Self.exampleTime))
    }

    func testPlusInQueryIsTriedAsSpaceThenAsLiteral() throws {
        // Sign "prefix=a b" (%20) and send it as "a+b" (form encoding): accepted.
        let key = SigV4.signingKey(secret: Self.secret, date: "20130524", region: "us-east-1", service: "s3")
        func signed(canonicalQuery: String, rawQuery: String) -> SigningRequest {
            let headers = [("Host", Self.host), ("x-amz-content-sha256", Self.emptyHash), ("x-amz-date", "20130524T000000Z")]
            let canonical = SigV4.canonicalRequest(
                method: "GET", canonicalURI: "/", canonicalQuery: canonicalQuery,
                canonicalHeaders: "host:\(Self.host)\nx-amz-content-sha256:\(Self.emptyHash)\nx-amz-date:20130524T000000Z\n",
                signedHeaders: ["host", "x-amz-content-sha256", "x-amz-date"], payloadHash: Self.emptyHash)
            let signature = SigV4.signature(signingKey: key, stringToSign: SigV4.stringToSign(
                timestamp: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", canonicalRequest: canonical))
            return SigningRequest(method: "GET", rawPath: "/", rawQuery: rawQuery, headers: headers + [
                ("Authorization", authorization("host;x-amz-content-sha256;x-amz-date", signature))])
        }
        XCTAssertNotNil(try authenticator().authenticate(signed(canonicalQuery: "prefix=a%20b", rawQuery: "prefix=a+b"),
                                                         now: Self.exampleTime))
        XCTAssertNotNil(try authenticator().authenticate(signed(canonicalQuery: "prefix=a%2Bb", rawQuery: "prefix=a+b"),
                                                         now: Self.exampleTime))
        _ = assertS3Error("SignatureDoesNotMatch") {
            try self.authenticator().authenticate(signed(canonicalQuery: "prefix=a%2Bb", rawQuery: "prefix=a%20b"),
                                                  now: Self.exampleTime)
        }
    }

    // MARK: SigV2 (RESTAuthentication examples; the docs now say "awsexamplebucket1" but the
    // published signatures were computed for the original bucket name "johnsmith")

    private func v2(secret: String = RequestAuthenticatorTests.secret) -> RequestAuthenticator {
        RequestAuthenticator { $0 == Self.accessKey ? secret : nil }
    }

    func testSigV2DocExampleObjectGet() throws {
        let request = SigningRequest(method: "GET", uri: "/photos/puppy.jpg", headers: [
            ("Host", "johnsmith.s3.amazonaws.com"), ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
        ])
        let now = Date(timeIntervalSince1970: 1_175_024_202)
        let result = try XCTUnwrap(try v2().authenticate(request, now: now, virtualHostedBucket: "johnsmith"))
        XCTAssertEqual(result.method, .sigV2Header)
        _ = assertS3Error("SignatureDoesNotMatch") {
            try self.v2().authenticate(request, now: now, virtualHostedBucket: "janesmith")
        }
        _ = assertS3Error("RequestTimeTooSkewed") {
            try self.v2().authenticate(request, now: now.addingTimeInterval(901), virtualHostedBucket: "johnsmith")
        }
    }

    func testSigV2DocExampleObjectPutWithContentType() throws {
        let request = SigningRequest(method: "PUT", uri: "/photos/puppy.jpg", headers: [
            ("Content-Type", "image/jpeg"), ("Content-Length", "94328"), ("Host", "johnsmith.s3.amazonaws.com"),
            ("Date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:MyyxeRY7whkBe+bq8fHCL/2kKUg="),
        ])
        XCTAssertNotNil(try v2().authenticate(request, now: Date(timeIntervalSince1970: 1_175_030_145),
                                              virtualHostedBucket: "johnsmith"))
    }

    func testSigV2DocExampleAclSubresourceAndXAmzDate() throws {
        let acl = SigningRequest(method: "GET", uri: "/?acl", headers: [
            ("Host", "johnsmith.s3.amazonaws.com"), ("Date", "Tue, 27 Mar 2007 19:44:46 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:c2WLPFtWHVgbEmeEG93a4cG37dM="),
        ])
        XCTAssertNotNil(try v2().authenticate(acl, now: Date(timeIntervalSince1970: 1_175_024_686),
                                              virtualHostedBucket: "johnsmith"))
        // Path-style DELETE with x-amz-date taking precedence over Date.
        let delete = SigningRequest(method: "DELETE", uri: "/johnsmith/photos/puppy.jpg", headers: [
            ("User-Agent", "dotnet"), ("Host", "s3.amazonaws.com"), ("Date", "Tue, 27 Mar 2007 21:20:27 +0000"),
            ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:lx3byBScXR6KzyMaifNkardMwNk="),
        ])
        XCTAssertNotNil(try v2().authenticate(delete, now: Date(timeIntervalSince1970: 1_175_030_426)))
    }

    func testSigV2DocExampleUnicodeKeysSignedLiterally() throws {
        let request = SigningRequest(method: "GET", uri: "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", headers: [
            ("Host", "s3.amazonaws.com"), ("Date", "Wed, 28 Mar 2007 01:49:49 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:DNEZGsoieTZ92F3bUfSPQcbGmlM="),
        ])
        XCTAssertNotNil(try v2().authenticate(request, now: Date(timeIntervalSince1970: 1_175_046_589)))
    }

    func testSigV2DocExamplePresignedQueryString() throws {
        let request = SigningRequest(method: "GET", rawPath: "/photos/puppy.jpg",
                                     rawQuery: "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
                                     headers: [("Host", "johnsmith.s3.amazonaws.com")])
        let before = Date(timeIntervalSince1970: 1_175_139_000)
        let result = try XCTUnwrap(try v2().authenticate(request, now: before, virtualHostedBucket: "johnsmith"))
        XCTAssertEqual(result.method, .sigV2Presigned)
        let error = assertS3Error("AccessDenied") {
            try self.v2().authenticate(request, now: Date(timeIntervalSince1970: 1_175_139_621), virtualHostedBucket: "johnsmith")
        }
        XCTAssertEqual(error?.message, "Request has expired")
        _ = assertS3Error("SignatureDoesNotMatch") {
            try self.v2(secret: "wrong").authenticate(request, now: before, virtualHostedBucket: "johnsmith")
        }
    }

    func testSigV2CanonicalizedResourceSubresources() {
        XCTAssertEqual(SigV2.canonicalizedResource(
            rawPath: "/b/k", rawQuery: "uploadId=abc%2Fd&partNumber=2&foo=bar&response-content-type=text%2Fplain",
            virtualHostedBucket: nil),
                       "/b/k?partNumber=2&response-content-type=text/plain&uploadId=abc/d")
        XCTAssertEqual(SigV2.canonicalizedResource(rawPath: "/", rawQuery: "prefix=photos&max-keys=50",
                                                   virtualHostedBucket: "johnsmith"), "/johnsmith/")
        XCTAssertEqual(SigV2.canonicalizedResource(rawPath: "/k", rawQuery: "acl&versionId=",
                                                   virtualHostedBucket: nil), "/k?acl&versionId=")
    }

    func testSigV2DocExampleUploadAmzHeadersSortedAndJoined() {
        // The "Upload" example's CanonicalizedAmzHeaders, from headers in mixed case and order.
        let amz = SigV2.canonicalizedAmzHeaders([
            ("x-amz-acl", "public-read"), ("content-type", "application/x-download"),
            ("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"), ("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
            ("X-Amz-Meta-FileChecksum", "0x02661779"), ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
        ])
        XCTAssertEqual(amz, "x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\nx-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n")
        let sts = SigV2.stringToSign(method: "PUT", contentMD5: "4gJE4saaMU4BqNR0kLY+lw==",
                                     contentType: "application/x-download", dateOrExpires: "Tue, 27 Mar 2007 21:06:08 +0000",
                                     amzHeaders: amz, resource: "/static.johnsmith.net/db-backup.dat.gz")
        XCTAssertEqual(SigV2.signature(secret: Self.secret, stringToSign: sts), "ilyl83RwaSoYIEdixDQcA4OnAnc=")
    }
}
