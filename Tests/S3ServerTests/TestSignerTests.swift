import Foundation
import NIOCore
import XCTest
@testable import S3Server

/// The test-side signer against the server's verifier: every signing mode must
/// authenticate through ``RequestAuthenticator`` with the right secret and fail with
/// SignatureDoesNotMatch with a wrong one, and every aws-chunked body it frames must pass
/// ``ChunkedBodyVerifier`` and decode to the original payload. If these break, protocol
/// test failures say nothing about the server.
final class TestSignerTests: XCTestCase {
    static let accessKey = "AKIDSTRATATEST"
    static let secret = "strata/secret+KEY/0123456789abcdefghij"
    static let host = "127.0.0.1:49152"

    private var rng = SplitMix64(seed: 7)

    private func signer(now: Date = Date(), secret: String = TestSignerTests.secret) -> TestSigner {
        TestSigner(accessKey: Self.accessKey, secret: secret, now: now, host: Self.host)
    }

    private func authenticator(secret: String = TestSignerTests.secret) -> RequestAuthenticator {
        RequestAuthenticator(region: "us-east-1") { $0 == TestSignerTests.accessKey ? secret : nil }
    }

    @discardableResult
    private func assertAuthenticates(_ request: SignedRequest, now: Date = Date(),
                                     file: StaticString = #filePath, line: UInt = #line) throws -> AuthenticatedRequest {
        do {
            return try XCTUnwrap(try authenticator().authenticate(request.signingRequest, now: now), file: file, line: line)
        } catch let error as S3Error {
            XCTFail("\(error.code): \(error.message)", file: file, line: line)
            throw error
        }
    }

    private func assertS3Error(_ code: String, _ request: SignedRequest, now: Date = Date(), secret: String = TestSignerTests.secret,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try authenticator(secret: secret).authenticate(request.signingRequest, now: now),
                             file: file, line: line) { error in
            XCTAssertEqual((error as? S3Error)?.code, code, "\(error)", file: file, line: line)
        }
    }

    private func payload(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Authenticates a streaming request, runs its body through the verifier in random
    /// pieces and returns the decoded payload and summary.
    private func verifyStreaming(_ request: SignedRequest, file: StaticString = #filePath,
                                 line: UInt = #line) throws -> ([UInt8], ChunkedBodyVerifier.Summary) {
        let auth = try assertAuthenticates(request, file: file, line: line)
        var verifier = try ChunkedBodyVerifier(request: request.signingRequest, authenticated: auth)
        var decoded: [UInt8] = []
        for piece in request.body.randomPieces(maxPiece: 4096, using: &rng) {
            var buffer = ByteBuffer(bytes: piece)
            for slice in try verifier.feed(&buffer) { decoded += Array(slice.readableBytesView) }
        }
        return (decoded, try verifier.finish())
    }

    // MARK: SigV4 header auth

    func testSignedPayloadAuthenticates() throws {
        let body = payload(1000)
        let request = signer().sign(method: "PUT", path: S3Path.encode(bucket: "bucket", key: "dir/object.bin"),
                                    headers: [("Content-Type", "application/octet-stream"), ("x-amz-meta-color", "  blue   green ")],
                                    body: body)
        XCTAssertEqual(request.header("Host"), Self.host)
        XCTAssertEqual(request.header("Content-Length"), "1000")
        XCTAssertEqual(request.header("x-amz-content-sha256"), TestSigner.sha256Hex(body))
        let auth = try assertAuthenticates(request)
        XCTAssertEqual(auth.method, .sigV4Header)
        XCTAssertEqual(auth.payload, .sha256(TestSigner.sha256Hex(body)))
        XCTAssertEqual(auth.chunkSigning?.seedSignature, request.signature)
        assertS3Error("SignatureDoesNotMatch", request, secret: "wrong")
    }

    func testUnsignedPayloadAuthenticates() throws {
        let request = signer().sign(method: "PUT", path: "/bucket/key", body: payload(10), payload: .unsigned)
        XCTAssertEqual(try assertAuthenticates(request).payload, .unsignedPayload)
        assertS3Error("SignatureDoesNotMatch", request, secret: "wrong")
    }

    func testTamperedHeaderFailsSignature() throws {
        var request = signer().sign(method: "GET", path: "/bucket/key", headers: [("Range", "bytes=0-9")])
        try assertAuthenticates(request)
        request.setHeader("Range", "bytes=0-10")
        assertS3Error("SignatureDoesNotMatch", request)
    }

    func testUnsignedHeadersAddedAfterSigningStillAuthenticate() throws {
        var request = signer().sign(method: "PUT", path: "/bucket/key", headers: [("Expect", "100-continue")], body: [1])
        XCTAssertFalse(request.header("Authorization")!.contains("expect"))
        request.headers.append(("User-Agent", "strata-tests"))
        try assertAuthenticates(request)
    }

    func testQueryAndAwkwardKeyAuthenticate() throws {
        let key = "a b/c+d/ü$&=?#%.txt//x"
        let path = S3Path.encode(bucket: "bucket", key: key)
        XCTAssertEqual(path, "/bucket/a%20b/c%2Bd/%C3%BC%24%26%3D%3F%23%25.txt//x")
        let get = signer().sign(method: "GET", path: path, query: [("versionId", "v1+/="), ("partNumber", "2")])
        XCTAssertEqual(get.query, "versionId=v1%2B%2F%3D&partNumber=2")
        try assertAuthenticates(get)
        let list = signer().sign(method: "GET", path: "/bucket",
                                 query: [("list-type", "2"), ("prefix", "a b/+ü"), ("delimiter", "/"), ("uploads", nil)])
        XCTAssertTrue(list.query.hasSuffix("&uploads"))
        try assertAuthenticates(list)
        assertS3Error("SignatureDoesNotMatch", list, secret: "wrong")
    }

    func testSkewedClockIsRejected() {
        let request = signer(now: Date().addingTimeInterval(-20 * 60)).sign(method: "GET", path: "/bucket/key")
        assertS3Error("RequestTimeTooSkewed", request)
    }

    // MARK: aws-chunked

    func testStreamingSignedVerifiesAndDecodes() throws {
        for (size, chunk) in [(0, 8192), (1, 8192), (8192, 8192), (20_000, 8192), (70_000, 65_536)] {
            let body = payload(size)
            let request = signer().sign(method: "PUT", path: "/bucket/chunked", body: body,
                                        payload: .streamingSigned(chunkSize: chunk))
            XCTAssertEqual(request.header("Content-Encoding"), "aws-chunked")
            XCTAssertEqual(request.header("x-amz-decoded-content-length"), String(size))
            XCTAssertEqual(request.header("Content-Length"), String(request.body.count))
            XCTAssertTrue(request.body.starts(with: Array("\(String(min(size, chunk), radix: 16));chunk-signature=".utf8)))
            let (decoded, summary) = try verifyStreaming(request)
            XCTAssertEqual(decoded, body, "size \(size)")
            XCTAssertEqual(summary.decodedLength, Int64(size))
            XCTAssertNil(summary.checksum)
            assertS3Error("SignatureDoesNotMatch", request, secret: "wrong")
        }
    }

    func testStreamingSignedTamperedChunkFails() throws {
        var request = signer().sign(method: "PUT", path: "/bucket/chunked", body: payload(10_000),
                                    payload: .streamingSigned(chunkSize: 4096))
        request.body[200] ^= 1
        XCTAssertThrowsError(try verifyStreaming(request)) { error in
            XCTAssertEqual((error as? S3Error)?.code, "SignatureDoesNotMatch", "\(error)")
        }
    }

    func testStreamingUnsignedTrailerVerifiesEveryAlgorithm() throws {
        for algorithm in ChecksumAlgorithm.allCases {
            let body = payload(30_000)
            let request = signer().sign(method: "PUT", path: "/bucket/trailer", body: body,
                                        payload: .streamingUnsignedTrailer(chunkSize: 16_384, checksum: algorithm))
            XCTAssertEqual(request.header("x-amz-trailer"), algorithm.headerName)
            XCTAssertEqual(request.header("Content-Length"), String(request.body.count))
            XCTAssertTrue(request.body.starts(with: Array("4000\r\n".utf8)))
            let (decoded, summary) = try verifyStreaming(request)
            XCTAssertEqual(decoded, body)
            XCTAssertEqual(summary.checksum?.algorithm, algorithm)
            XCTAssertEqual(summary.checksum?.base64, TestSigner.checksumBase64(algorithm, of: body))
            assertS3Error("SignatureDoesNotMatch", request, secret: "wrong")
        }
    }

    func testStreamingSignedTrailerVerifies() throws {
        for (size, algorithm) in [(0, ChecksumAlgorithm.crc32), (5000, .crc32c), (65_537, .crc64nvme), (100, .sha256)] {
            let body = payload(size)
            let request = signer().sign(method: "PUT", path: "/bucket/signed-trailer", body: body,
                                        payload: .streamingSignedTrailer(chunkSize: 65_536, checksum: algorithm))
            XCTAssertEqual(request.header("Content-Length"), String(request.body.count))
            let (decoded, summary) = try verifyStreaming(request)
            XCTAssertEqual(decoded, body)
            XCTAssertEqual(summary.checksum?.base64, TestSigner.checksumBase64(algorithm, of: body))
            XCTAssertTrue(summary.trailers.contains { $0.name == "x-amz-trailer-signature" })
        }
    }

    func testStreamingSignedTrailerTamperedTrailerFails() throws {
        let body = payload(100)
        var request = signer().sign(method: "PUT", path: "/bucket/k", body: body,
                                    payload: .streamingSignedTrailer(chunkSize: 64, checksum: .crc32))
        // Replace the trailer checksum with a well-formed but different one.
        let good = TestSigner.checksumBase64(.crc32, of: body)
        let bad = TestSigner.checksumBase64(.crc32, of: body + [0])
        let trailerLine = Array("x-amz-checksum-crc32:\(good)".utf8)
        let at = try XCTUnwrap(request.body.indices.first { request.body[$0...].starts(with: trailerLine) })
        request.body.replaceSubrange(at..<(at + trailerLine.count), with: Array("x-amz-checksum-crc32:\(bad)".utf8))
        XCTAssertThrowsError(try verifyStreaming(request)) { error in
            XCTAssertEqual((error as? S3Error)?.code, "SignatureDoesNotMatch", "\(error)")
        }
    }

    func testAWSChunkedLengthMatchesEncoding() {
        let s = signer()
        for size in [0, 1, 63, 64, 65, 1000] {
            for signed in [false, true] {
                let trailers = [("x-amz-checksum-crc32", "AAAAAA==")]
                let body = s.awsChunkedBody(payload(size), chunkSize: 64, seedSignature: signed ? String(repeating: "0", count: 64) : nil,
                                            trailers: trailers)
                XCTAssertEqual(body.count, TestSigner.awsChunkedLength(payloadLength: size, chunkSize: 64, signed: signed, trailers: trailers))
            }
        }
    }

    // MARK: presigned and SigV2

    func testPresignedV4Authenticates() throws {
        let now = Date()
        let request = signer(now: now).presignV4(method: "GET", path: S3Path.encode(bucket: "bucket", key: "a b+c"),
                                                 query: [("response-content-type", "text/plain")], expires: 600)
        XCTAssertTrue(request.query.contains("X-Amz-Credential=\(Self.accessKey)%2F"))
        XCTAssertTrue(request.query.contains("X-Amz-SignedHeaders=host&"))
        XCTAssertNil(request.header("Authorization"))
        let auth = try assertAuthenticates(request, now: now)
        XCTAssertEqual(auth.method, .sigV4Presigned)
        assertS3Error("SignatureDoesNotMatch", request, secret: "wrong")
        assertS3Error("AccessDenied", request, now: now.addingTimeInterval(601))
        var otherHost = request
        otherHost.setHeader("Host", "127.0.0.1:1")
        assertS3Error("SignatureDoesNotMatch", otherHost)
    }

    func testSigV2HeaderAuthenticates() throws {
        let request = signer().signV2(method: "PUT", path: "/bucket/k%20ey", query: [("acl", nil)],
                                      headers: [("Content-Type", "text/plain"), ("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
                                                ("x-amz-meta-a", "1"), ("X-Amz-Meta-B", "2")],
                                      body: [])
        XCTAssertTrue(request.header("Authorization")!.hasPrefix("AWS \(Self.accessKey):"))
        XCTAssertEqual(try assertAuthenticates(request).method, .sigV2Header)
        assertS3Error("SignatureDoesNotMatch", request, secret: "wrong")
        assertS3Error("RequestTimeTooSkewed", signer(now: Date().addingTimeInterval(3600)).signV2(method: "GET", path: "/b"))
    }

    func testSigV2PresignedAuthenticates() throws {
        let now = Date()
        let request = signer(now: now).presignV2(method: "GET", path: "/bucket/key", query: [("versionId", "3")], expires: 60)
        XCTAssertTrue(request.query.contains("AWSAccessKeyId=\(Self.accessKey)&Expires="))
        XCTAssertEqual(try assertAuthenticates(request, now: now).method, .sigV2Presigned)
        assertS3Error("SignatureDoesNotMatch", request, now: now, secret: "wrong")
        assertS3Error("AccessDenied", request, now: now.addingTimeInterval(61))
    }

    // MARK: S3Path

    func testS3PathEncodesLikeTheSDKs() {
        XCTAssertEqual(S3Path.encode(bucket: "b"), "/b")
        XCTAssertEqual(S3Path.encode(bucket: "b", key: ""), "/b")
        XCTAssertEqual(S3Path.encode(bucket: "b", key: "A-Z_a.z~0/9"), "/b/A-Z_a.z~0/9")
        XCTAssertEqual(S3Path.encode(bucket: "b", key: "/lead"), "/b//lead")
        XCTAssertEqual(S3Path.encode(bucket: "b", key: "x y+z*'()!,;:@"), "/b/x%20y%2Bz%2A%27%28%29%21%2C%3B%3A%40")
        XCTAssertEqual(S3Path.encode(bucket: "b", key: "日本"), "/b/%E6%97%A5%E6%9C%AC")
    }
}
