import NIOCore
import XCTest
@testable import S3Server

/// aws-chunked bodies end to end: chunk signatures (sigv4-streaming), the signed trailer
/// (sigv4-streaming-trailers), unsigned trailers as boto3 ≥ 1.36 sends them, declared
/// lengths and checksums, and the S3 error for each way they go wrong (docs/S3-NOTES.md,
/// "aws-chunked uploads", "Trailer errors are 400s").
final class ChunkedBodyVerifierTests: XCTestCase {
    static let key = SigV4.signingKey(secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", date: "20130524",
                                      region: "us-east-1", service: "s3")

    static func context(seed: String) -> ChunkSigningContext {
        ChunkSigningContext(signingKey: SigningKey(key), timestamp: "20130524T000000Z",
                            scope: "20130524/us-east-1/s3/aws4_request", seedSignature: seed)
    }

    /// sigv4-streaming example: seed 4f232c43…
    static let docContext = context(seed: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")

    /// sigv4-streaming-trailers example: seed 106e2a8a…, CRC32C trailer, trailer signature d81f82fc…
    static let trailerContext = context(seed: "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e")

    static func signedTrailerDocBody(trailerSignature: String = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435",
                                     checksum: String = "sOO8/Q==") -> [UInt8] {
        let a = UInt8(ascii: "a")
        return bytes("10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n")
            + [UInt8](repeating: a, count: 65_536) + bytes("\r\n")
            + bytes("400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n")
            + [UInt8](repeating: a, count: 1024) + bytes("\r\n")
            + bytes("0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n")
            + bytes("x-amz-checksum-crc32c:\(checksum)\r\nx-amz-trailer-signature:\(trailerSignature)\r\n\r\n")
    }

    private func run(_ verifier: inout ChunkedBodyVerifier, _ pieces: [[UInt8]]) throws -> (payload: [UInt8], summary: ChunkedBodyVerifier.Summary) {
        var payload: [UInt8] = []
        for piece in pieces {
            var buffer = ByteBuffer(bytes: piece)
            for slice in try verifier.feed(&buffer) { payload += Array(slice.readableBytesView) }
        }
        return (payload, try verifier.finish())
    }

    private func expectError(_ code: String, _ verifier: ChunkedBodyVerifier, _ body: [UInt8],
                             line: UInt = #line) {
        for pieces in [[body], body.randomPieces(maxPiece: 1000, using: &rng)] {
            var v = verifier
            XCTAssertThrowsError(try run(&v, pieces), line: line) { error in
                XCTAssertEqual((error as? S3Error)?.code, code, "\(error)", line: line)
            }
        }
    }

    private var rng = SplitMix64(seed: 99)

    // MARK: signed chunks

    private func signedVerifier(length: String? = "66560") throws -> ChunkedBodyVerifier {
        try ChunkedBodyVerifier(payload: .streamingSigned, chunkSigning: Self.docContext, trailerHeader: nil,
                                decodedContentLength: length)
    }

    func testS3DocChunkedExampleVerifies() throws {
        var verifier = try signedVerifier()
        let result = try run(&verifier, [AWSChunkedDecoderTests.signedDocBody()])
        XCTAssertEqual(result.payload.count, 66_560)
        XCTAssertEqual(result.summary.decodedLength, 66_560)
        XCTAssertNil(result.summary.checksum)
        XCTAssertTrue(verifier.isComplete)
    }

    func testS3DocChunkedExampleVerifiesByteByByte() throws {
        var verifier = try signedVerifier()
        let body = AWSChunkedDecoderTests.signedDocBody()
        XCTAssertEqual(try run(&verifier, body.map { [$0] }).payload.count, 66_560)
    }

    func testTamperedChunkDataFailsSignature() throws {
        var body = AWSChunkedDecoderTests.signedDocBody()
        body[100] = UInt8(ascii: "b")
        expectError("SignatureDoesNotMatch", try signedVerifier(), body)
    }

    func testTamperedFinalChunkSignatureFails() throws {
        // The zero-length final chunk is signed too.
        var body = AWSChunkedDecoderTests.signedDocBody()
        body[body.count - 5] = body[body.count - 5] == UInt8(ascii: "f") ? UInt8(ascii: "e") : UInt8(ascii: "f")
        expectError("SignatureDoesNotMatch", try signedVerifier(), body)
    }

    func testChunkSignaturesMustChainFromSeed() throws {
        let verifier = try ChunkedBodyVerifier(payload: .streamingSigned, chunkSigning: Self.context(seed: String(repeating: "0", count: 64)),
                                               trailerHeader: nil, decodedContentLength: "66560")
        expectError("SignatureDoesNotMatch", verifier, AWSChunkedDecoderTests.signedDocBody())
    }

    func testUnsignedChunkInSignedModeFails() throws {
        expectError("SignatureDoesNotMatch", try signedVerifier(length: nil), bytes("3\r\nabc\r\n0\r\n\r\n"))
    }

    func testDecodedContentLengthMismatchIsIncompleteBody() throws {
        expectError("IncompleteBody", try signedVerifier(length: "66561"), AWSChunkedDecoderTests.signedDocBody())
        expectError("IncompleteBody", try signedVerifier(length: "100"), AWSChunkedDecoderTests.signedDocBody())
    }

    func testTruncatedBodyIsIncompleteBody() throws {
        let body = Array(AWSChunkedDecoderTests.signedDocBody().prefix(66_000))
        expectError("IncompleteBody", try signedVerifier(), body)
    }

    // MARK: signed trailer

    private func trailerVerifier() throws -> ChunkedBodyVerifier {
        try ChunkedBodyVerifier(payload: .streamingSignedTrailer, chunkSigning: Self.trailerContext,
                                trailerHeader: "x-amz-checksum-crc32c", decodedContentLength: "66560")
    }

    func testS3DocSignedTrailerExampleVerifies() throws {
        var verifier = try trailerVerifier()
        let result = try run(&verifier, [Self.signedTrailerDocBody()])
        XCTAssertEqual(result.summary.checksum?.algorithm, .crc32c)
        XCTAssertEqual(result.summary.checksum?.base64, "sOO8/Q==")
        XCTAssertEqual(result.summary.trailers.map(\.name), ["x-amz-checksum-crc32c", "x-amz-trailer-signature"])
    }

    func testTrailerSignatureStringToSignHashesLFTerminatedTrailerLines() {
        let sts = Self.trailerContext.trailerStringToSign(
            previousSignature: "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
            trailers: [("x-amz-checksum-crc32c", "sOO8/Q==")])
        XCTAssertEqual(sts, "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\n"
            + SigV4.sha256Hex(bytes("x-amz-checksum-crc32c:sOO8/Q==\n")))
    }

    func testWrongTrailerSignatureFails() throws {
        expectError("SignatureDoesNotMatch", try trailerVerifier(),
                    Self.signedTrailerDocBody(trailerSignature: String(repeating: "0", count: 64)))
    }

    func testMissingTrailerSignatureInSignedTrailerModeFails() throws {
        var body = Self.signedTrailerDocBody()
        let text = String(decoding: body, as: UTF8.self)
        let cut = text.range(of: "x-amz-trailer-signature:")!
        body = bytes(String(text[..<cut.lowerBound]) + "\r\n")
        expectError("MalformedTrailerError", try trailerVerifier(), body)
    }

    func testSignedTrailerWithWrongChecksumIsBadDigestOrSignatureError() throws {
        // Changing the checksum breaks the trailer signature first: the signature is checked
        // before the digest, as the trailer is only trusted once it is authenticated.
        expectError("SignatureDoesNotMatch", try trailerVerifier(), Self.signedTrailerDocBody(checksum: "AAAAAA=="))
    }

    // MARK: unsigned trailer (boto3 ≥ 1.36 default)

    private func unsignedVerifier(trailer: String? = "x-amz-checksum-crc32", length: String? = "28",
                                  headers: [(name: String, value: String)] = []) throws -> ChunkedBodyVerifier {
        try ChunkedBodyVerifier(payload: .streamingUnsignedTrailer, chunkSigning: nil, trailerHeader: trailer,
                                decodedContentLength: length, headerChecksums: headers)
    }

    func testBotocoreUnsignedTrailerVerifiesCRC32() throws {
        var verifier = try unsignedVerifier()
        let result = try run(&verifier, [bytes(AWSChunkedDecoderTests.botocoreUnsignedTrailerBody)])
        XCTAssertEqual(String(decoding: result.payload, as: UTF8.self), "Hello world, this is strata.")
        XCTAssertEqual(result.summary.checksum?.base64, "g+Qs1A==")
        XCTAssertEqual(result.summary.checksum?.algorithm, .crc32)
    }

    func testUnsignedTrailerChecksumMismatchIsBadDigest() throws {
        let body = AWSChunkedDecoderTests.botocoreUnsignedTrailerBody.replacingOccurrences(of: "g+Qs1A==", with: "AAAAAA==")
        expectError("BadDigest", try unsignedVerifier(), bytes(body))
        let tampered = AWSChunkedDecoderTests.botocoreUnsignedTrailerBody.replacingOccurrences(of: "strata", with: "Strata")
        expectError("BadDigest", try unsignedVerifier(), bytes(tampered))
    }

    func testDeclaredTrailerMissingIsMalformedTrailer() throws {
        expectError("MalformedTrailerError", try unsignedVerifier(length: "3"), bytes("3\r\nabc\r\n0\r\n\r\n"))
    }

    func testUndeclaredTrailerIsInvalidRequest() throws {
        expectError("InvalidRequest", try unsignedVerifier(trailer: "x-amz-checksum-crc32c"),
                    bytes(AWSChunkedDecoderTests.botocoreUnsignedTrailerBody))
        expectError("InvalidRequest", try unsignedVerifier(trailer: nil),
                    bytes(AWSChunkedDecoderTests.botocoreUnsignedTrailerBody))
    }

    func testTrailerValueNotBase64OfRightLengthIsInvalidRequest() throws {
        let body = AWSChunkedDecoderTests.botocoreUnsignedTrailerBody.replacingOccurrences(of: "g+Qs1A==", with: "g+Qs")
        expectError("InvalidRequest", try unsignedVerifier(), bytes(body))
    }

    func testHeaderChecksumAndDeclaredTrailerTogetherAreRejected() {
        XCTAssertThrowsError(try unsignedVerifier(headers: [("x-amz-checksum-crc32", "g+Qs1A==")])) { error in
            XCTAssertEqual((error as? S3Error)?.code, "InvalidRequest")
        }
    }

    func testHeaderChecksumIsVerifiedOverDecodedPayload() throws {
        let body = bytes("a\r\nHello worl\r\na\r\nd, this is\r\n8\r\n strata.\r\n0\r\n\r\n")
        var good = try ChunkedBodyVerifier(payload: .streamingUnsignedTrailer, chunkSigning: nil, trailerHeader: nil,
                                           decodedContentLength: "28", headerChecksums: [("X-Amz-Checksum-CRC32", "g+Qs1A==")])
        XCTAssertEqual(try run(&good, [body]).summary.checksum?.base64, "g+Qs1A==")
        let bad = try ChunkedBodyVerifier(payload: .streamingUnsignedTrailer, chunkSigning: nil, trailerHeader: nil,
                                          decodedContentLength: "28", headerChecksums: [("x-amz-checksum-crc32", "AAAAAA==")])
        expectError("BadDigest", bad, body)
    }

    func testUnsupportedTrailerNameAndNonStreamingModeAreRejected() {
        XCTAssertThrowsError(try unsignedVerifier(trailer: "x-amz-meta-foo"))
        XCTAssertThrowsError(try ChunkedBodyVerifier(payload: .unsignedPayload, chunkSigning: nil,
                                                     trailerHeader: nil, decodedContentLength: nil))
        XCTAssertThrowsError(try ChunkedBodyVerifier(payload: .streamingSigned, chunkSigning: nil,
                                                     trailerHeader: nil, decodedContentLength: nil))
        XCTAssertThrowsError(try unsignedVerifier(length: "-1"))
    }

    func testFramingErrorsSurfaceAsS3Errors() throws {
        expectError("InvalidRequest", try unsignedVerifier(), bytes("zz\r\n"))
        expectError("InvalidRequest", try unsignedVerifier(length: nil),
                    bytes(AWSChunkedDecoderTests.botocoreUnsignedTrailerBody + "extra"))
    }

    func testConvenienceInitReadsRequestHeaders() throws {
        let request = SigningRequest(method: "PUT", uri: "/b/k", headers: [
            ("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-decoded-content-length", "28"),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ])
        let authenticated = AuthenticatedRequest(accessKeyId: "AK", method: .sigV4Header, payload: .streamingUnsignedTrailer,
                                                 scope: nil, chunkSigning: nil, securityToken: nil)
        var verifier = try ChunkedBodyVerifier(request: request, authenticated: authenticated)
        XCTAssertEqual(try run(&verifier, [bytes(AWSChunkedDecoderTests.botocoreUnsignedTrailerBody)]).summary.checksum?.base64,
                       "g+Qs1A==")
    }
}
