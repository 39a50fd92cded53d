import Foundation
import XCTest
@testable import S3Server

/// Every way a PUT body can fail its checks, over a real socket: the payload hash, the
/// Content-MD5, `x-amz-checksum-*` headers and trailers, chunk and trailer signatures,
/// trailer and length framing, and conditional writes. Each failure must answer the S3
/// error AWS answers and commit nothing: a new key stays absent and an existing key keeps
/// its previous version.
final class S3BodyIntegrityTests: S3WireTestCase {
    static let previous = Array("the previous version".utf8)

    // MARK: - Payload hash and digests

    /// A real hash in `x-amz-content-sha256` is checked against the body;
    /// a mismatch is 400 XAmzContentSHA256Mismatch (AWS's code) and nothing is stored.
    func testContentSHA256MismatchIsRejectedAndNothingCommitted() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            for key in ["new", "existing"] {
                let data = self.randomBytes(count: 10_000, seed: 1)
                var request = self.signer(server).sign(method: "PUT", path: "/bucket/\(key)", body: data)
                request.body[5_000] ^= 0xFF  // same length, one byte off: the signature still matches
                let response = try RawHTTPClient(port: server.port).send(request)
                self.assertS3Error(response, status: 400, code: "XAmzContentSHA256Mismatch")
                XCTAssertEqual(self.errorField("ClientComputedContentSHA256", response), request.header("x-amz-content-sha256"))
                XCTAssertEqual(self.errorField("S3ComputedContentSHA256", response), TestSigner.sha256Hex(request.body))
            }
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")
        }
    }

    /// Content-MD5 that does not match the body is 400 BadDigest.
    func testContentMD5MismatchIsBadDigest() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            for key in ["new", "existing"] {
                let data = Array("the body".utf8)
                let response = try self.put(server, "bucket", key, data,
                                            headers: [("Content-MD5", self.md5Base64(Array("another body".utf8)))])
                self.assertS3Error(response, status: 400, code: "BadDigest")
            }
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")
            // The right Content-MD5 is accepted.
            let data = Array("the body".utf8)
            XCTAssertEqual(try self.put(server, "bucket", "new", data, headers: [("Content-MD5", self.md5Base64(data))]).status, 200)
        }
    }

    /// A Content-MD5 that is not the base64 of 16 bytes is 400 InvalidDigest, before any
    /// body is read.
    func testMalformedContentMD5IsInvalidDigest() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = Array("the body".utf8)
            // Not base64; base64 of 3 bytes; the hex digest instead of base64.
            for value in ["not base64!!", "AAAA", self.md5Hex(data)] {
                let response = try self.put(server, "bucket", "key", data, headers: [("Content-MD5", value)])
                self.assertS3Error(response, status: 400, code: "InvalidDigest")
            }
            try self.assertNotStored(server, "key")
        }
    }

    /// An `x-amz-checksum-*` header that does not match the body is 400 BadDigest; one that
    /// matches is stored and returned with checksum mode.
    func testChecksumHeaderMismatchIsBadDigest() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            let data = self.randomBytes(count: 3_000, seed: 2)
            let other = self.randomBytes(count: 3_000, seed: 3)
            for algorithm in [ChecksumAlgorithm.crc32, .sha256] {
                for key in ["new", "existing"] {
                    let response = try self.put(server, "bucket", key, data,
                                                headers: [(algorithm.headerName, TestSigner.checksumBase64(algorithm, of: other))])
                    self.assertS3Error(response, status: 400, code: "BadDigest")
                }
            }
            // The same header on an aws-chunked body (checked against the decoded payload).
            let streamed = try self.put(server, "bucket", "new", data, payload: .streamingSigned(chunkSize: 8192),
                                        headers: [("x-amz-checksum-crc32", TestSigner.checksumBase64(.crc32, of: other))])
            self.assertS3Error(streamed, status: 400, code: "BadDigest")
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")

            let checksum = TestSigner.checksumBase64(.crc32, of: data)
            let good = try self.put(server, "bucket", "new", data, payload: .unsigned,
                                    headers: [("x-amz-checksum-crc32", checksum)])
            XCTAssertEqual(good.status, 200, good.bodyString)
            XCTAssertEqual(good.header("x-amz-checksum-crc32"), checksum)
            let get = try self.get(server, "bucket", "new", headers: [("x-amz-checksum-mode", "ENABLED")])
            XCTAssertEqual(get.header("x-amz-checksum-crc32"), checksum)
        }
    }

    // MARK: - aws-chunked bodies

    /// A trailing checksum that does not match the payload is 400 BadDigest: unsigned
    /// trailer, and signed trailer with a correctly signed but wrong value.
    func testTrailerChecksumMismatchIsBadDigest() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            let data = self.randomBytes(count: 20_000, seed: 4)
            let wrong = TestSigner.checksumBase64(.crc32c, of: Array(data.dropFirst()))
            for signed in [false, true] {
                for key in ["new", "existing"] {
                    let signer = self.signer(server)
                    let payload: TestSigner.Payload = signed
                        ? .streamingSignedTrailer(chunkSize: 8192, checksum: .crc32c)
                        : .streamingUnsignedTrailer(chunkSize: 8192, checksum: .crc32c)
                    var request = signer.sign(method: "PUT", path: "/bucket/\(key)", body: data, payload: payload)
                    request.body = signer.awsChunkedBody(data, chunkSize: 8192, seedSignature: signed ? request.signature : nil,
                                                         trailers: [("x-amz-checksum-crc32c", wrong)])
                    let response = try RawHTTPClient(port: server.port).send(request)
                    self.assertS3Error(response, status: 400, code: "BadDigest")
                }
            }
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")
        }
    }

    /// A chunk whose bytes were changed in flight fails its chunk signature: 403
    /// SignatureDoesNotMatch, as AWS answers, and nothing is committed, though the
    /// earlier chunks were already written.
    func testTamperedChunkIsSignatureDoesNotMatch() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            let data = self.randomBytes(count: 4 * 8192, seed: 5)
            for payload in [TestSigner.Payload.streamingSigned(chunkSize: 8192),
                            .streamingSignedTrailer(chunkSize: 8192, checksum: .sha1)] {
                for key in ["new", "existing"] {
                    var request = self.signer(server).sign(method: "PUT", path: "/bucket/\(key)", body: data, payload: payload)
                    // A byte in the third chunk's data.
                    let chunkLine = "2000;chunk-signature=".utf8.count + 64 + 2
                    let offset = 2 * (chunkLine + 8192 + 2) + chunkLine + 100
                    request.body[offset] ^= 0x01
                    let response = try RawHTTPClient(port: server.port).send(request)
                    self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
                }
            }
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")
        }
    }

    /// A changed chunk signature, or a trailer changed after signing, is 403
    /// SignatureDoesNotMatch.
    func testTamperedChunkOrTrailerSignatureIsSignatureDoesNotMatch() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 10_000, seed: 6)
            let signer = self.signer(server)

            var badChunkSignature = signer.sign(method: "PUT", path: "/bucket/key", body: data,
                                                payload: .streamingSigned(chunkSize: 8192))
            let signatureStart = "2000;chunk-signature=".utf8.count
            badChunkSignature.body[signatureStart] = badChunkSignature.body[signatureStart] == UInt8(ascii: "0")
                ? UInt8(ascii: "1") : UInt8(ascii: "0")
            self.assertS3Error(try RawHTTPClient(port: server.port).send(badChunkSignature),
                               status: 403, code: "SignatureDoesNotMatch")

            // The trailer value changed, the trailer signature kept (and the value is
            // valid for other data, so only the signature can catch it).
            var badTrailer = signer.sign(method: "PUT", path: "/bucket/key", body: data,
                                         payload: .streamingSignedTrailer(chunkSize: 8192, checksum: .crc32))
            let original = TestSigner.checksumBase64(.crc32, of: data)
            let forged = TestSigner.checksumBase64(.crc32, of: Array(data.reversed()))
            badTrailer.body = self.replacing(Array("x-amz-checksum-crc32:\(original)".utf8),
                                             with: Array("x-amz-checksum-crc32:\(forged)".utf8), in: badTrailer.body)
            self.assertS3Error(try RawHTTPClient(port: server.port).send(badTrailer),
                               status: 403, code: "SignatureDoesNotMatch")
            try self.assertNotStored(server, "key")
        }
    }

    /// A trailer declared in `x-amz-trailer` but absent from the body is a
    /// 400-class error (AWS: MalformedTrailerError), never a 500 or a stored object.
    func testDeclaredTrailerMissingIs400() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 10_000, seed: 7)
            for signed in [false, true] {
                let signer = self.signer(server)
                let length = TestSigner.awsChunkedLength(payloadLength: data.count, chunkSize: 8192, signed: signed, trailers: [])
                let payload: TestSigner.Payload = signed
                    ? .streamingSignedTrailer(chunkSize: 8192, checksum: .crc32)
                    : .streamingUnsignedTrailer(chunkSize: 8192, checksum: .crc32)
                var request = signer.sign(method: "PUT", path: "/bucket/key", headers: [("Content-Length", String(length))],
                                          body: data, payload: payload)
                request.body = signer.awsChunkedBody(data, chunkSize: 8192, seedSignature: signed ? request.signature : nil)
                XCTAssertEqual(request.body.count, length)
                let response = try RawHTTPClient(port: server.port).send(request)
                self.assertS3Error(response, status: 400, code: "MalformedTrailerError")
            }
            try self.assertNotStored(server, "key")
        }
    }

    /// A checksum both in a header and in the trailer is a 400 (AWS:
    /// InvalidRequest), not a 500.
    func testChecksumInHeaderAndTrailerIs400() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 1_000, seed: 8)
            let response = try self.put(server, "bucket", "key", data,
                                        payload: .streamingUnsignedTrailer(chunkSize: 8192, checksum: .crc32),
                                        headers: [("x-amz-checksum-crc32", TestSigner.checksumBase64(.crc32, of: data))])
            self.assertS3Error(response, status: 400, code: "InvalidRequest")
            try self.assertNotStored(server, "key")
        }
    }

    /// An aws-chunked body that carries fewer bytes than `x-amz-decoded-content-length`
    /// is 400 IncompleteBody, as AWS answers.
    func testBodyShorterThanDecodedLengthIsIncompleteBody() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            let data = self.randomBytes(count: 20_000, seed: 9)
            let short = Array(data.prefix(15_000))
            for mode in 0..<3 {
                for key in ["new", "existing"] {
                    let signer = self.signer(server)
                    let signed = mode != 1
                    let trailers = mode == 0 ? [] : [("x-amz-checksum-crc32", TestSigner.checksumBase64(.crc32, of: short))]
                    let payload: TestSigner.Payload = switch mode {
                    case 0: .streamingSigned(chunkSize: 8192)
                    case 1: .streamingUnsignedTrailer(chunkSize: 8192, checksum: .crc32)
                    default: .streamingSignedTrailer(chunkSize: 8192, checksum: .crc32)
                    }
                    let length = TestSigner.awsChunkedLength(payloadLength: short.count, chunkSize: 8192, signed: signed,
                                                             trailers: trailers)
                    // x-amz-decoded-content-length says 20 000; the body holds 15 000.
                    var request = signer.sign(method: "PUT", path: "/bucket/\(key)",
                                              headers: [("Content-Length", String(length))], body: data, payload: payload)
                    XCTAssertEqual(request.header("x-amz-decoded-content-length"), "20000")
                    request.body = signer.awsChunkedBody(short, chunkSize: 8192, seedSignature: signed ? request.signature : nil,
                                                         trailers: trailers)
                    let response = try RawHTTPClient(port: server.port).send(request)
                    self.assertS3Error(response, status: 400, code: "IncompleteBody")
                }
            }
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")
        }
    }

    /// An aws-chunked body with more data than `x-amz-decoded-content-length` is a 400,
    /// nothing stored.
    func testBodyLongerThanDecodedLengthIs400() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 10_000, seed: 14)
            let long = data + [1, 2, 3]
            let signer = self.signer(server)
            let length = TestSigner.awsChunkedLength(payloadLength: long.count, chunkSize: 8192, signed: true, trailers: [])
            var request = signer.sign(method: "PUT", path: "/bucket/key", headers: [("Content-Length", String(length))],
                                      body: data, payload: .streamingSigned(chunkSize: 8192))
            request.body = signer.awsChunkedBody(long, chunkSize: 8192, seedSignature: request.signature)
            let response = try RawHTTPClient(port: server.port).send(request)
            XCTAssertEqual(response.status, 400, response.bodyString)
            try self.assertNotStored(server, "key")
        }
    }

    /// A client that disconnects mid-body leaves nothing behind: the object is not
    /// committed from a partial body (LevelDB-style: a torn write is never visible).
    func testClientDisconnectMidBodyCommitsNothing() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            try self.putPrevious(server, "existing")
            for key in ["new", "existing"] {
                for payload in [TestSigner.Payload.unsigned, .streamingSigned(chunkSize: 8192)] {
                    let data = self.randomBytes(count: 100_000, seed: 15)
                    let request = self.signer(server).sign(method: "PUT", path: "/bucket/\(key)", body: data, payload: payload)
                    let client = try RawHTTPClient(port: server.port)
                    try client.sendRaw(Array(request.wireBytes.prefix(request.wireBytes.count - request.body.count + 50_000)))
                    client.close()
                }
            }
            // The server notices the close asynchronously; give it a moment, then check.
            try await Task.sleep(for: .milliseconds(300))
            try self.assertNotStored(server, "new")
            try self.assertPreviousKept(server, "existing")
        }
    }

    /// A `Transfer-Encoding: chunked` body whose framing breaks mid-way gets one 400 (from
    /// NIO's protocol error handler) and a closed connection, nothing is stored, and the
    /// server survives: whether the failure surfaces while the PUT reads the body or while
    /// an early error's unread body is drained, no second response is written (that
    /// tripped NIO's HTTPServerPipelineHandler assertion and killed the process).
    func testMalformedHTTPChunkedFramingIs400AndServerSurvives() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 20_000, seed: 16)
            var body = self.httpChunked(Array(data.prefix(10_000)), pieceSize: 5_000)
            body.removeLast(5)  // drop the last-chunk marker
            body += Array("zz-not-a-size\r\n".utf8)
            // Read while storing (bucket exists), and drained after NoSuchBucket.
            for path in ["/bucket/key", "/no-such-bucket/key"] {
                let (headers, _) = self.signWithoutContentLength(
                    self.signer(server), method: "PUT", path: path,
                    headers: [("Transfer-Encoding", "chunked")], payloadHash: TestSigner.sha256Hex(data))
                let client = try RawHTTPClient(port: server.port)
                let response = try client.request(method: "PUT", path: path, headers: headers, body: body)
                XCTAssertTrue(response.status == 400 || response.status == 404, "\(path): \(response.status)")
                XCTAssertTrue(client.serverClosedConnection(), path)
            }
            try self.assertNotStored(server, "key")
        }
    }

    // MARK: - Conditional writes

    /// `If-None-Match: *` creates only; on an existing key it is 412
    /// PreconditionFailed (AWS conditional writes) and the object is unchanged.
    func testConditionalPutIfNoneMatchStarOnExistingKeyIs412() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let first = try self.put(server, "bucket", "key", Self.previous, headers: [("If-None-Match", "*")])
            XCTAssertEqual(first.status, 200, "creating with If-None-Match: * succeeds")
            let second = try self.put(server, "bucket", "key", Array("overwrite".utf8), headers: [("If-None-Match", "*")])
            self.assertS3Error(second, status: 412, code: "PreconditionFailed")
            try self.assertPreviousKept(server, "key")
        }
    }

    /// `If-Match` with an ETag that is not the current one is 412 PreconditionFailed; with
    /// the current one the write goes ahead. On a missing key AWS answers 404 NoSuchKey.
    func testConditionalPutIfMatchWithWrongETagIs412() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let first = try self.put(server, "bucket", "key", Self.previous)
            let etag = try XCTUnwrap(first.header("ETag"))
            let wrong = try self.put(server, "bucket", "key", Array("overwrite".utf8),
                                     headers: [("If-Match", "\"0123456789abcdef0123456789abcdef\"")])
            self.assertS3Error(wrong, status: 412, code: "PreconditionFailed")
            try self.assertPreviousKept(server, "key")

            let right = try self.put(server, "bucket", "key", Array("overwrite".utf8), headers: [("If-Match", etag)])
            XCTAssertEqual(right.status, 200, right.bodyString)
            XCTAssertEqual(try self.get(server, "bucket", "key").bodyString, "overwrite")

            let missing = try self.put(server, "bucket", "missing", [1], headers: [("If-Match", etag)])
            self.assertS3Error(missing, status: 404, code: "NoSuchKey")
            try self.assertNotStored(server, "missing")
        }
    }

    // MARK: - Helpers

    /// Stores ``previous`` at `key` in `bucket`.
    private func putPrevious(_ server: S3TestServer, _ key: String) throws {
        XCTAssertEqual(try put(server, "bucket", key, Self.previous).status, 200)
    }

    /// `key` does not exist in `bucket`: GET is 404 NoSuchKey.
    private func assertNotStored(_ server: S3TestServer, _ key: String,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        assertS3Error(try get(server, "bucket", key), status: 404, code: "NoSuchKey", file: file, line: line)
    }

    /// `key` in `bucket` still holds ``previous``.
    private func assertPreviousKept(_ server: S3TestServer, _ key: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let response = try get(server, "bucket", key)
        XCTAssertEqual(response.status, 200, file: file, line: line)
        XCTAssertEqual(response.body, Self.previous, "the previous version is still there", file: file, line: line)
    }

    /// `bytes` with the first occurrence of `target` replaced by `replacement`.
    private func replacing(_ target: [UInt8], with replacement: [UInt8], in bytes: [UInt8]) -> [UInt8] {
        for start in 0...(bytes.count - target.count) where Array(bytes[start..<(start + target.count)]) == target {
            return Array(bytes[..<start]) + replacement + Array(bytes[(start + target.count)...])
        }
        XCTFail("pattern not found")
        return bytes
    }
}
