import Foundation
import XCTest
@testable import S3Server

/// Authentication over a real socket, one test per way real clients sign: SigV4 header
/// auth with each payload mode (signed, `UNSIGNED-PAYLOAD`, the three aws-chunked
/// streaming modes with every checksum algorithm), SigV4 and SigV2 presigned URLs, SigV2
/// header auth; and the failures AWS answers with 403.
final class S3AuthenticationTests: S3WireTestCase {
    // MARK: - SigV4 header auth

    /// SigV4 with the hex SHA-256 of the body in `x-amz-content-sha256`.
    func testSigV4HeaderAuthWithSignedPayload() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 5_000, seed: 1)
            let put = try self.put(server, "bucket", "signed", data, payload: .signed)
            XCTAssertEqual(put.status, 200, put.bodyString)
            XCTAssertEqual(put.header("ETag"), "\"\(self.md5Hex(data))\"")
            XCTAssertEqual(try self.get(server, "bucket", "signed").body, data)
        }
    }

    /// SigV4 with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (what most SDKs send over HTTPS).
    func testSigV4HeaderAuthWithUnsignedPayload() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 5_000, seed: 2)
            let put = try self.put(server, "bucket", "unsigned", data, payload: .unsigned)
            XCTAssertEqual(put.status, 200, put.bodyString)
            let get = try RawHTTPClient(port: server.port).send(
                self.signer(server).sign(method: "GET", path: "/bucket/unsigned", payload: .unsigned))
            XCTAssertEqual(get.status, 200, get.bodyString)
            XCTAssertEqual(get.body, data)
        }
    }

    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` over several chunks (the last one short):
    /// every chunk signature checked, the object holds only the payload.
    func testStreamingSignedPayloadOverSeveralChunks() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 5 * 8192 + 1234, seed: 3)
            let put = try self.put(server, "bucket", "streamed", data, payload: .streamingSigned(chunkSize: 8192))
            XCTAssertEqual(put.status, 200, put.bodyString)
            XCTAssertEqual(put.header("ETag"), "\"\(self.md5Hex(data))\"")
            try self.assertStoredExactly(server, "bucket", "streamed", data)
        }
    }

    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` with each checksum algorithm, as
    /// boto3 ≥ 1.36 and AWS CLI ≥ 2.23 upload. PutObject echoes the checksum; GET and
    /// HEAD return it with `x-amz-checksum-mode: ENABLED`, as AWS does.
    func testStreamingUnsignedTrailerStoresPayloadAndChecksumForEachAlgorithm() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            for (index, algorithm) in ChecksumAlgorithm.allCases.enumerated() {
                let data = self.randomBytes(count: 20_000 + index, seed: 10 + UInt64(index))
                let key = "unsigned-trailer-\(algorithm.rawValue)"
                let put = try self.put(server, "bucket", key, data,
                                       payload: .streamingUnsignedTrailer(chunkSize: 8192, checksum: algorithm))
                XCTAssertEqual(put.status, 200, "\(algorithm): \(put.bodyString)")
                try self.assertChecksumReturned(server, key: key, data: data, algorithm: algorithm, putResponse: put)
                try self.assertStoredExactly(server, "bucket", key, data)
            }
        }
    }

    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` with each checksum algorithm: signed
    /// chunks, a signed trailer; the checksum comes back with checksum mode.
    func testStreamingSignedTrailerStoresPayloadAndChecksumForEachAlgorithm() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            for (index, algorithm) in ChecksumAlgorithm.allCases.enumerated() {
                let data = self.randomBytes(count: 30_000 - index, seed: 20 + UInt64(index))
                let key = "signed-trailer-\(algorithm.rawValue)"
                let put = try self.put(server, "bucket", key, data,
                                       payload: .streamingSignedTrailer(chunkSize: 8192, checksum: algorithm))
                XCTAssertEqual(put.status, 200, "\(algorithm): \(put.bodyString)")
                try self.assertChecksumReturned(server, key: key, data: data, algorithm: algorithm, putResponse: put)
                try self.assertStoredExactly(server, "bucket", key, data)
            }
        }
    }

    /// An aws-chunked upload of an empty object: just the final chunk and the trailer.
    func testStreamingUploadOfEmptyObject() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let put = try self.put(server, "bucket", "empty", [], payload: .streamingUnsignedTrailer(checksum: .crc32))
            XCTAssertEqual(put.status, 200, put.bodyString)
            XCTAssertEqual(put.header("ETag"), "\"d41d8cd98f00b204e9800998ecf8427e\"")
            XCTAssertEqual(put.header("x-amz-checksum-crc32"), "AAAAAA==")
            try self.assertStoredExactly(server, "bucket", "empty", [])
        }
    }

    // MARK: - Presigned URLs and SigV2

    /// A SigV4 presigned GET (`aws s3 presign`, boto3 `generate_presigned_url`).
    func testPresignedV4Get() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = Array("presigned get".utf8)
            XCTAssertEqual(try self.put(server, "bucket", "file name.txt", data).status, 200)
            let request = self.signer(server).presignV4(method: "GET", path: S3Path.encode(bucket: "bucket", key: "file name.txt"))
            let get = try RawHTTPClient(port: server.port).send(request)
            XCTAssertEqual(get.status, 200, get.bodyString)
            XCTAssertEqual(get.body, data)
        }
    }

    /// A SigV4 presigned PUT: the body is `UNSIGNED-PAYLOAD`, any Content-Length.
    func testPresignedV4Put() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 40_000, seed: 4)
            var request = self.signer(server).presignV4(method: "PUT", path: "/bucket/uploaded")
            request.body = data
            let put = try RawHTTPClient(port: server.port).send(request)
            XCTAssertEqual(put.status, 200, put.bodyString)
            XCTAssertEqual(try self.get(server, "bucket", "uploaded").body, data)
        }
    }

    /// A presigned URL's signature covers the query: changing a signed parameter fails.
    func testPresignedV4WithAlteredQueryIsSignatureDoesNotMatch() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            XCTAssertEqual(try self.put(server, "bucket", "key", [1]).status, 200)
            var request = self.signer(server).presignV4(method: "GET", path: "/bucket/key", expires: 3600)
            request.query = request.query.replacingOccurrences(of: "X-Amz-Expires=3600", with: "X-Amz-Expires=3601")
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
        }
    }

    /// A presigned URL signs the Host exactly as the client saw it (with the
    /// port); the same URL sent with another Host is 403 SignatureDoesNotMatch.
    func testPresignedV4WithDifferentHostIsSignatureDoesNotMatch() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            XCTAssertEqual(try self.put(server, "bucket", "key", [1]).status, 200)
            var request = self.signer(server).presignV4(method: "GET", path: "/bucket/key")
            request.setHeader("Host", "127.0.0.1")
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
            XCTAssertEqual(self.errorField("CanonicalRequest", response)?.contains("host:127.0.0.1\n"), true)
        }
    }

    /// A SigV2 presigned GET (`AWSAccessKeyId`, `Expires`, `Signature`), as CLI v1 and
    /// `s3cmd signurl` produce.
    func testPresignedV2Get() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = Array("presigned v2".utf8)
            XCTAssertEqual(try self.put(server, "bucket", "dir/v2+key", data).status, 200)
            let request = self.signer(server).presignV2(method: "GET", path: S3Path.encode(bucket: "bucket", key: "dir/v2+key"))
            let get = try RawHTTPClient(port: server.port).send(request)
            XCTAssertEqual(get.status, 200, get.bodyString)
            XCTAssertEqual(get.body, data)
        }
    }

    /// SigV2 header auth (`Authorization: AWS key:signature`), still used by s3cmd and
    /// old SDKs: PUT with Content-MD5 and Content-Type, GET, DELETE.
    func testSigV2HeaderAuth() async throws {
        try await S3TestServer.with { server in
            let signer = self.signer(server)
            let client = try RawHTTPClient(port: server.port)
            XCTAssertEqual(try client.send(signer.signV2(method: "PUT", path: "/v2-bucket")).status, 200)
            let data = Array("sigv2 body".utf8)
            let put = try client.send(signer.signV2(method: "PUT", path: "/v2-bucket/key",
                                                    headers: [("Content-Type", "text/plain"),
                                                              ("Content-MD5", self.md5Base64(data)),
                                                              ("x-amz-meta-color", "blue")],
                                                    body: data))
            XCTAssertEqual(put.status, 200, put.bodyString)
            let get = try client.send(signer.signV2(method: "GET", path: "/v2-bucket/key"))
            XCTAssertEqual(get.status, 200, get.bodyString)
            XCTAssertEqual(get.body, data)
            XCTAssertEqual(get.header("Content-Type"), "text/plain")
            XCTAssertEqual(get.header("x-amz-meta-color"), "blue")
            XCTAssertEqual(try client.send(signer.signV2(method: "DELETE", path: "/v2-bucket/key")).status, 204)
        }
    }

    /// SigV2 with the wrong secret: 403 SignatureDoesNotMatch with the StringToSign.
    func testSigV2WithWrongSecretIsSignatureDoesNotMatch() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let signer = self.signer(server, secret: "not-the-secret")
            let response = try RawHTTPClient(port: server.port).send(signer.signV2(method: "GET", path: "/bucket/key"))
            self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
            XCTAssertEqual(self.errorField("StringToSign", response)?.hasSuffix("\n/bucket/key"), true)
        }
    }

    // MARK: - Failures

    /// With the wrong secret AWS answers 403 SignatureDoesNotMatch and puts the
    /// CanonicalRequest and StringToSign it computed in the error document.
    func testWrongSecretIsSignatureDoesNotMatchWithCanonicalRequest() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let signer = self.signer(server, secret: "wrong-secret")
            let response = try RawHTTPClient(port: server.port).send(
                signer.sign(method: "GET", path: "/bucket/some%20key", query: [("list-type", "2")]))
            self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
            let canonical = try XCTUnwrap(self.errorField("CanonicalRequest", response))
            let stringToSign = try XCTUnwrap(self.errorField("StringToSign", response))
            XCTAssertTrue(canonical.hasPrefix("GET\n/bucket/some%20key\nlist-type=2\nhost:\(server.host)\n"), canonical)
            XCTAssertEqual(stringToSign, signer.stringToSign(canonicalRequest: canonical),
                           "the string to sign is the one of the canonical request shown")
            XCTAssertEqual(self.errorField("AWSAccessKeyId", response), S3TestServer.accessKey)
            XCTAssertNotNil(self.errorField("SignatureProvided", response))
        }
    }

    /// A header changed after signing: 403 SignatureDoesNotMatch, nothing stored.
    func testHeaderChangedAfterSigningIsSignatureDoesNotMatch() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            var request = self.signer(server).sign(method: "PUT", path: "/bucket/key",
                                                   headers: [("x-amz-meta-owner", "alice")], body: [1, 2, 3])
            request.setHeader("x-amz-meta-owner", "mallory")
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
            self.assertS3Error(try self.get(server, "bucket", "key"), status: 404, code: "NoSuchKey")
        }
    }

    /// SigV4 header auth without `x-amz-content-sha256`: AWS refuses it with a 400
    /// (InvalidRequest: "Missing required header for this request: x-amz-content-sha256").
    func testSigV4WithoutContentSHA256HeaderIs400() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let signer = self.signer(server)
            var headers: [(name: String, value: String)] = [("Host", signer.host), ("x-amz-date", signer.timestamp)]
            let signed = TestSigner.signedHeaderNames(headers)
            let canonical = TestSigner.canonicalRequest(method: "GET", path: "/bucket", canonicalQuery: "", headers: headers,
                                                        signedHeaders: signed, payloadHash: SigV4.emptySHA256)
            let signature = SigV4.signature(signingKey: signer.signingKey, stringToSign: signer.stringToSign(canonicalRequest: canonical))
            headers.append(("Authorization",
                            "AWS4-HMAC-SHA256 Credential=\(signer.accessKey)/\(signer.scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"))
            let response = try RawHTTPClient(port: server.port).request(method: "GET", path: "/bucket", headers: headers)
            XCTAssertEqual(response.status, 400, response.bodyString)
            XCTAssertNotNil(self.errorField("Code", response))
        }
    }

    /// AWS allows 15 minutes of clock skew; at 16 minutes (either way) it
    /// answers 403 RequestTimeTooSkewed with the server time in the body.
    func testClockSkewedBy16MinutesIsRequestTimeTooSkewed() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let client = try RawHTTPClient(port: server.port)
            for skew in [-16.0 * 60, 16.0 * 60] {
                let signer = self.signer(server, now: Date().addingTimeInterval(skew))
                let response = try client.send(signer.sign(method: "GET", path: "/bucket", query: [("list-type", "2")]))
                self.assertS3Error(response, status: 403, code: "RequestTimeTooSkewed")
                XCTAssertEqual(self.errorField("RequestTime", response), signer.timestamp)
                XCTAssertNotNil(self.errorField("ServerTime", response))
                XCTAssertEqual(self.errorField("MaxAllowedSkewMilliseconds", response), "900000")
            }
            // 14 minutes is within the allowance.
            let signer = self.signer(server, now: Date().addingTimeInterval(-14 * 60))
            XCTAssertEqual(try client.send(signer.sign(method: "GET", path: "/bucket")).status, 200)
        }
    }

    /// An expired presigned URL: 403 AccessDenied ("Request has expired"), as AWS answers,
    /// for SigV4 and SigV2.
    func testExpiredPresignedURLIsAccessDenied() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            XCTAssertEqual(try self.put(server, "bucket", "key", [1]).status, 200)
            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server, now: Date().addingTimeInterval(-2 * 3600))
            let v4 = try client.send(signer.presignV4(method: "GET", path: "/bucket/key", expires: 3600))
            self.assertS3Error(v4, status: 403, code: "AccessDenied")
            let v2 = try client.send(signer.presignV2(method: "GET", path: "/bucket/key", expires: 3600))
            self.assertS3Error(v2, status: 403, code: "AccessDenied")
            // The same URLs, still valid, work.
            let fresh = self.signer(server)
            XCTAssertEqual(try client.send(fresh.presignV4(method: "GET", path: "/bucket/key", expires: 60)).status, 200)
            XCTAssertEqual(try client.send(fresh.presignV2(method: "GET", path: "/bucket/key", expires: 60)).status, 200)
        }
    }

    /// An access key the server does not know: 403 InvalidAccessKeyId, whatever the
    /// signing method.
    func testUnknownAccessKeyIsInvalidAccessKeyId() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let client = try RawHTTPClient(port: server.port)
            let stranger = self.signer(server, accessKey: "AKIDUNKNOWN", secret: "whatever")
            let requests = [
                stranger.sign(method: "GET", path: "/bucket"),
                stranger.sign(method: "PUT", path: "/bucket/key", body: [1, 2, 3]),
                stranger.presignV4(method: "GET", path: "/bucket/key"),
                stranger.signV2(method: "GET", path: "/bucket/key"),
                stranger.presignV2(method: "GET", path: "/bucket/key"),
            ]
            for request in requests {
                let response = try client.send(request)
                self.assertS3Error(response, status: 403, code: "InvalidAccessKeyId")
                XCTAssertEqual(self.errorField("AWSAccessKeyId", response), "AKIDUNKNOWN")
            }
            XCTAssertEqual(try self.get(server, "bucket", "key").status, 404)
        }
    }

    // MARK: - Helpers

    /// The object reads back as exactly `data`: no aws-chunked framing stored, the
    /// right length in the index and on GET.
    private func assertStoredExactly(_ server: S3TestServer, _ bucket: String, _ key: String, _ data: [UInt8],
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let response = try get(server, bucket, key)
        XCTAssertEqual(response.status, 200, file: file, line: line)
        XCTAssertEqual(response.header("Content-Length"), String(data.count), file: file, line: line)
        XCTAssertTrue(response.body == data, "\(key): stored bytes differ from the payload", file: file, line: line)
        XCTAssertFalse(response.bodyString.contains("chunk-signature"), file: file, line: line)
        XCTAssertNil(response.header("Content-Encoding"), "aws-chunked is not an encoding of the object", file: file, line: line)
    }

    /// The checksum of `data` is echoed by PUT and returned by GET and HEAD with checksum
    /// mode, and not returned without it.
    private func assertChecksumReturned(_ server: S3TestServer, key: String, data: [UInt8], algorithm: ChecksumAlgorithm,
                                        putResponse: HTTPResponse,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = TestSigner.checksumBase64(algorithm, of: data)
        XCTAssertEqual(putResponse.header(algorithm.headerName), expected, "\(algorithm) on PUT", file: file, line: line)
        for method in ["GET", "HEAD"] {
            let withMode = try get(server, "bucket", key, method: method, headers: [("x-amz-checksum-mode", "ENABLED")])
            XCTAssertEqual(withMode.status, 200, file: file, line: line)
            XCTAssertEqual(withMode.header(algorithm.headerName), expected, "\(algorithm) on \(method)", file: file, line: line)
            XCTAssertEqual(withMode.header("x-amz-checksum-type"), "FULL_OBJECT", file: file, line: line)
            let without = try get(server, "bucket", key, method: method)
            XCTAssertNil(without.header(algorithm.headerName), "\(algorithm) on \(method) without checksum mode",
                         file: file, line: line)
        }
    }
}
