import NIOCore
import XCTest
@testable import S3Server

/// The aws-chunked framing decoder: AWS's documented bodies, botocore's unsigned trailer
/// form, arbitrary splits, and every framing error.
final class AWSChunkedDecoderTests: XCTestCase {
    /// Exactly what botocore 1.43's AwsChunkedWrapper sends (chunk size 10) for
    /// "Hello world, this is strata." with a CRC32 trailer (docs/S3-NOTES.md, "aws-chunked
    /// uploads").
    static let botocoreUnsignedTrailerBody =
        "a\r\nHello worl\r\na\r\nd, this is\r\n8\r\n strata.\r\n0\r\nx-amz-checksum-crc32:g+Qs1A==\r\n\r\n"

    /// Decodes `body` fed in the given pieces; returns the payload, the signatures seen and
    /// the trailers, or throws the decoder's error.
    static func decode(_ pieces: [[UInt8]], limits: AWSChunkedDecoder.Limits = .init())
        throws -> (payload: [UInt8], signatures: [String?], trailers: [AWSChunkedDecoder.Trailer], ended: Bool) {
        var decoder = AWSChunkedDecoder(limits: limits)
        var payload: [UInt8] = [], signatures: [String?] = [], trailers: [AWSChunkedDecoder.Trailer] = []
        var ended = false
        var actions: [AWSChunkedDecoder.Action] = []
        for piece in pieces {
            var buffer = ByteBuffer(bytes: piece)
            actions += try decoder.feed(&buffer)
            XCTAssertEqual(buffer.readableBytes, 0, "feed consumes everything")
        }
        actions += try decoder.finish()
        var open = false
        for action in actions {
            switch action {
            case .chunkStarted(_, let signature):
                XCTAssertFalse(open); open = true
                signatures.append(signature)
            case .data(let slice):
                XCTAssertTrue(open)
                payload += Array(slice.readableBytesView)
            case .chunkEnded:
                XCTAssertTrue(open); open = false
            case .trailers(let t): trailers = t
            case .end: ended = true
            }
        }
        return (payload, signatures, trailers, ended)
    }

    static func signedDocBody() -> [UInt8] {
        let a = UInt8(ascii: "a")
        return bytes("10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n")
            + [UInt8](repeating: a, count: 65_536) + bytes("\r\n")
            + bytes("400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n")
            + [UInt8](repeating: a, count: 1024) + bytes("\r\n")
            + bytes("0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n")
    }

    func testS3DocSignedChunkedExampleDecodesToPayloadAndSignatures() throws {
        let result = try Self.decode([Self.signedDocBody()])
        XCTAssertEqual(result.payload, [UInt8](repeating: UInt8(ascii: "a"), count: 66_560))
        XCTAssertEqual(result.signatures, [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ])
        XCTAssertEqual(result.trailers, [])
        XCTAssertTrue(result.ended)
        XCTAssertEqual(Self.signedDocBody().count, 66_824, "the doc's Content-Length")
    }

    func testBotocoreUnsignedTrailerForm() throws {
        let result = try Self.decode([bytes(Self.botocoreUnsignedTrailerBody)])
        XCTAssertEqual(String(decoding: result.payload, as: UTF8.self), "Hello world, this is strata.")
        XCTAssertEqual(result.signatures, [nil, nil, nil, nil])
        XCTAssertEqual(result.trailers, [.init(name: "x-amz-checksum-crc32", value: "g+Qs1A==")])
    }

    func testByteByByteAndRandomSplitsGiveIdenticalOutput() throws {
        for body in [Self.signedDocBody(), bytes(Self.botocoreUnsignedTrailerBody)] {
            let whole = try Self.decode([body])
            let single = try Self.decode(body.map { [$0] })
            XCTAssertEqual(single.payload, whole.payload)
            XCTAssertEqual(single.signatures, whole.signatures)
            XCTAssertEqual(single.trailers, whole.trailers)
            var rng = SplitMix64(seed: 7)
            for maxPiece in [2, 3, 17, 100, 5000] {
                let split = try Self.decode(body.randomPieces(maxPiece: maxPiece, using: &rng))
                XCTAssertEqual(split.payload, whole.payload, "maxPiece \(maxPiece)")
                XCTAssertEqual(split.signatures, whole.signatures)
                XCTAssertEqual(split.trailers, whole.trailers)
            }
        }
    }

    func testEmptyBodyWithTrailerOnly() throws {
        let result = try Self.decode([bytes("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")])
        XCTAssertEqual(result.payload, [])
        XCTAssertEqual(result.trailers.count, 1)
    }

    func testUppercaseHexSizeAndUnknownExtensionIgnored() throws {
        let result = try Self.decode([bytes("A;foo=bar\r\n0123456789\r\n0\r\n\r\n")])
        XCTAssertEqual(result.payload, bytes("0123456789"))
    }

    func testMissingFinalCRLFAfterLastChunkIsTolerated() throws {
        XCTAssertTrue(try Self.decode([bytes("3\r\nabc\r\n0\r\n")]).ended)
    }

    func testTrailerLinesWithBareLFAreAccepted() throws {
        let result = try Self.decode([bytes("0\r\nx-amz-checksum-crc32: g+Qs1A== \n\r\n")])
        XCTAssertEqual(result.trailers, [.init(name: "x-amz-checksum-crc32", value: "g+Qs1A==")])
    }

    // MARK: errors

    private func assertDecodingError(_ body: String, _ expected: AWSChunkedDecoder.DecodingError,
                                     limits: AWSChunkedDecoder.Limits = .init(), line: UInt = #line) {
        for pieces in [[bytes(body)], bytes(body).map { [$0] }] {
            XCTAssertThrowsError(try Self.decode(pieces, limits: limits), line: line) { error in
                XCTAssertEqual(error as? AWSChunkedDecoder.DecodingError, expected, line: line)
            }
        }
    }

    func testMalformedChunkSize() {
        assertDecodingError("xyz\r\nabc\r\n0\r\n\r\n", .malformedChunkHeader)
        assertDecodingError(";chunk-signature=\(String(repeating: "a", count: 64))\r\n", .malformedChunkHeader)
        assertDecodingError("3;chunk-signature=abc\r\nabc\r\n0\r\n\r\n", .malformedChunkHeader)
    }

    func testChunkHeaderWithoutCRIsMissingCRLF() {
        assertDecodingError("3\nabc\r\n0\r\n\r\n", .missingCRLF)
    }

    func testChunkDataNotFollowedByCRLF() {
        assertDecodingError("3\r\nabcd\r\n0\r\n\r\n", .missingCRLF)
        assertDecodingError("3\r\nabc\r0\r\n\r\n", .missingCRLF)
    }

    func testBodyEndingEarly() {
        assertDecodingError("5\r\nabc", .bodyEndedEarly)
        assertDecodingError("5\r\nabcde", .bodyEndedEarly)
        assertDecodingError("5\r\nabcde\r\n", .bodyEndedEarly)
        assertDecodingError("5", .bodyEndedEarly)
        assertDecodingError("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n", .bodyEndedEarly)
        assertDecodingError("", .bodyEndedEarly)
    }

    func testDataAfterEnd() {
        assertDecodingError("0\r\n\r\nX", .dataAfterEnd)
    }

    func testChunkSizeThatDoesNotFitIsRejected() {
        assertDecodingError("fffffffffffffffffff\r\n", .chunkSizeTooLarge)
        assertDecodingError("101\r\n", .chunkSizeTooLarge, limits: .init(maxChunkSize: 256))
    }

    func testOverlongChunkHeaderIsRejected() {
        let long = "3;" + String(repeating: "x", count: 5000) + "\r\nabc\r\n0\r\n\r\n"
        assertDecodingError(long, .chunkHeaderTooLong)
        // Also without any LF at all: the limit holds while the line is still open.
        assertDecodingError("3;" + String(repeating: "x", count: 5000), .chunkHeaderTooLong)
    }

    func testHeaderAtTheLimitIsAccepted() throws {
        let limits = AWSChunkedDecoder.Limits(maxChunkHeaderLength: 8)
        XCTAssertNoThrow(try Self.decode([bytes("3;abcdef\r\nabc\r\n0\r\n\r\n")], limits: limits))
        XCTAssertThrowsError(try Self.decode([bytes("3;abcdefg\r\nabc\r\n0\r\n\r\n")], limits: limits))
    }

    func testTrailersTooLongAndMalformed() {
        assertDecodingError("0\r\nx-amz-a:" + String(repeating: "v", count: 20_000) + "\r\n\r\n", .trailersTooLong)
        assertDecodingError("0\r\nno-colon-here\r\n\r\n", .malformedTrailer)
        assertDecodingError("0\r\n:value\r\n\r\n", .malformedTrailer)
    }

    func testDecoderStaysFailedAfterAnError() {
        var decoder = AWSChunkedDecoder()
        var bad = ByteBuffer(string: "zz\r\n")
        XCTAssertThrowsError(try decoder.feed(&bad))
        var good = ByteBuffer(string: "0\r\n\r\n")
        XCTAssertThrowsError(try decoder.feed(&good)) { error in
            XCTAssertEqual(error as? AWSChunkedDecoder.DecodingError, .malformedChunkHeader)
        }
    }

    func testErrorsMapToS3Codes() {
        XCTAssertEqual(AWSChunkedDecoder.DecodingError.bodyEndedEarly.s3Error.code, "IncompleteBody")
        XCTAssertEqual(AWSChunkedDecoder.DecodingError.missingCRLF.s3Error.code, "IncompleteBody")
        XCTAssertEqual(AWSChunkedDecoder.DecodingError.malformedTrailer.s3Error.code, "MalformedTrailerError")
        XCTAssertEqual(AWSChunkedDecoder.DecodingError.malformedChunkHeader.s3Error.code, "InvalidRequest")
        XCTAssertEqual(AWSChunkedDecoder.DecodingError.malformedChunkHeader.s3Error.status.code, 400)
    }
}
