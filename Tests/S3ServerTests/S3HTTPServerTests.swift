import Foundation
import XCTest
@testable import S3Server

/// The HTTP layer of the S3 front, driven over a real socket: keep-alive, `Expect:
/// 100-continue`, body framing, malformed requests, the headers and error documents every
/// response carries, the sendfile path for large objects, and request routing (path
/// style, virtual-hosted style, sub-resources, keys that need escaping).
final class S3HTTPServerTests: S3WireTestCase {
    // MARK: - Connections

    /// Clients (botocore's urllib3 pool, the Java SDK's Apache pool) reuse one connection
    /// for many requests, errors included; every response must be complete and framed.
    func testSeveralRequestsShareOneKeepAliveConnection() async throws {
        try await S3TestServer.with { server in
            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server)
            let data = Array("keep-alive body".utf8)
            var responses: [HTTPResponse] = []
            responses.append(try client.send(signer.sign(method: "PUT", path: "/bucket")))
            responses.append(try client.send(signer.sign(method: "PUT", path: "/bucket/key", body: data)))
            let get = try client.send(signer.sign(method: "GET", path: "/bucket/key"))
            responses.append(get)
            responses.append(try client.send(signer.sign(method: "HEAD", path: "/bucket/key")))
            let missing = try client.send(signer.sign(method: "GET", path: "/bucket/missing"))
            responses.append(missing)
            responses.append(try client.send(signer.sign(method: "DELETE", path: "/bucket/key")))
            let gone = try client.send(signer.sign(method: "GET", path: "/bucket/key"))
            responses.append(gone)
            responses.append(try client.send(signer.sign(method: "GET", path: "/")))

            XCTAssertEqual(responses.map(\.status), [200, 200, 200, 200, 404, 204, 404, 200])
            XCTAssertEqual(get.body, data)
            self.assertS3Error(missing, status: 404, code: "NoSuchKey")
            self.assertS3Error(gone, status: 404, code: "NoSuchKey")
            for response in responses {
                XCTAssertFalse(response.closesConnection, "status \(response.status) closed the connection")
            }
        }
    }

    /// A PUT with `Expect: 100-continue` (boto3 sends it on every PUT with a
    /// body) gets the interim `100 Continue` before it sends the body, then the final 200.
    func testExpectContinuePutGets100ThenStoresObject() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let client = try RawHTTPClient(port: server.port)
            let data = Array(repeating: UInt8(ascii: "x"), count: 10_000)
            let request = self.signer(server).sign(method: "PUT", path: "/bucket/continued",
                                                    headers: [("Expect", "100-continue")], body: data)
            let response = try client.send(request)
            XCTAssertEqual(response.interimStatuses, [100])
            XCTAssertEqual(response.status, 200)
            XCTAssertFalse(response.closesConnection)
            // The same connection carries on.
            let get = try client.send(self.signer(server).sign(method: "GET", path: "/bucket/continued"))
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body, data)
        }
    }

    /// `Expect: 100-continue`, the error side: a PUT that will fail gets the
    /// final error without `100 Continue` (the body is never sent, as AWS does), and the
    /// connection is closed because the server cannot know whether a body follows.
    func testExpectContinuePutToMissingBucketGets404WithoutContinueAndCloses() async throws {
        try await S3TestServer.with { server in
            let client = try RawHTTPClient(port: server.port)
            let request = self.signer(server).sign(method: "PUT", path: "/no-such-bucket/key",
                                                    headers: [("Expect", "100-continue")],
                                                    body: Array(repeating: 7, count: 4096))
            let response = try client.send(request)
            XCTAssertEqual(response.interimStatuses, [])
            self.assertS3Error(response, status: 404, code: "NoSuchBucket")
            XCTAssertTrue(response.closesConnection)
            XCTAssertTrue(client.serverClosedConnection())
        }
    }

    /// botocore waits for `100 Continue` even on an empty PUT body.
    func testExpectContinueEmptyPutGets100() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let client = try RawHTTPClient(port: server.port)
            let request = self.signer(server).sign(method: "PUT", path: "/bucket/empty",
                                                    headers: [("Expect", "100-continue")])
            let response = try client.send(request)
            XCTAssertEqual(response.interimStatuses, [100])
            XCTAssertEqual(response.status, 200)
        }
    }

    /// An `Expect: 100-continue` PUT whose signature is wrong gets the 403
    /// straight away, no `100 Continue`, and the connection closes.
    func testExpectContinueWithBadSignatureGets403WithoutContinue() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let client = try RawHTTPClient(port: server.port)
            let request = self.signer(server, secret: "wrong").sign(method: "PUT", path: "/bucket/key",
                                                                    headers: [("Expect", "100-continue")], body: [1, 2, 3])
            let response = try client.send(request)
            XCTAssertEqual(response.interimStatuses, [])
            self.assertS3Error(response, status: 403, code: "SignatureDoesNotMatch")
            XCTAssertTrue(client.serverClosedConnection())
            XCTAssertEqual(try self.get(server, "bucket", "key").status, 404)
        }
    }

    /// `Expect: 100-continue` with an aws-chunked body, as the Java SDK uploads: 100, then the
    /// streamed, chunk-signed body, then 200.
    func testExpectContinueWithStreamingSignedBody() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 1_500_000, seed: 11)
            let client = try RawHTTPClient(port: server.port)
            let request = self.signer(server).sign(method: "PUT", path: "/bucket/streamed",
                                                    headers: [("Expect", "100-continue")], body: data,
                                                    payload: .streamingSignedTrailer(chunkSize: 65_536, checksum: .crc64nvme))
            let response = try client.send(request)
            XCTAssertEqual(response.interimStatuses, [100])
            XCTAssertEqual(response.status, 200, response.bodyString)
            let get = try client.send(self.signer(server).sign(method: "GET", path: "/bucket/streamed"))
            XCTAssertTrue(get.body == data)
        }
    }

    /// An error answered before the (small) body was read leaves the connection usable:
    /// the body is drained, not parsed as the next request.
    func testErrorBeforeBodyIsReadKeepsConnectionInSync() async throws {
        try await S3TestServer.with { server in
            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server)
            // The body looks like a request: it must not be served as one.
            let smuggled = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            let missing = try client.send(signer.sign(method: "PUT", path: "/no-such-bucket/key", body: smuggled))
            self.assertS3Error(missing, status: 404, code: "NoSuchBucket")
            XCTAssertFalse(missing.closesConnection)
            let list = try client.send(signer.sign(method: "GET", path: "/"))
            XCTAssertEqual(list.status, 200)
            XCTAssertEqual(try XMLTree.parse(list.body).name, "ListAllMyBucketsResult")
        }
    }

    /// HTTP/1.1 pipelining: two requests written at once get two responses, in order.
    func testPipelinedRequestsAreAnsweredInOrder() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let signer = self.signer(server)
            let client = try RawHTTPClient(port: server.port)
            let put = signer.sign(method: "PUT", path: "/bucket/one", body: Array("first".utf8))
            let get = signer.sign(method: "GET", path: "/bucket/one")
            let missing = signer.sign(method: "GET", path: "/bucket/two")
            try client.sendRaw(put.wireBytes + get.wireBytes + missing.wireBytes)
            XCTAssertEqual(try client.readResponse().status, 200)
            let second = try client.readResponse()
            XCTAssertEqual(second.status, 200)
            XCTAssertEqual(second.bodyString, "first")
            self.assertS3Error(try client.readResponse(), status: 404, code: "NoSuchKey")
        }
    }

    /// Stopping with a grace period: an idle keep-alive connection is closed at once, and
    /// stop returns as soon as no connection is left, long before the grace period ends.
    /// (A request in flight finishing first is tested in HTTPConnectionTests.)
    func testGracefulStopClosesIdleConnectionsAtOnce() async throws {
        try await S3TestServer.with { server in
            let signer = self.signer(server)
            let idle = try RawHTTPClient(port: server.port, timeout: 3)
            XCTAssertEqual(try idle.send(signer.sign(method: "GET", path: "/")).status, 200)
            let started = ContinuousClock.now
            await server.server.stop(gracePeriod: .seconds(20))
            XCTAssertLessThan(ContinuousClock.now - started, .seconds(5))
            XCTAssertTrue(idle.serverClosedConnection(), "an idle connection closes at once")
        }
    }

    /// `Connection: close` from the client, or HTTP/1.0 without keep-alive: the server
    /// answers, says so, and closes.
    func testConnectionCloseAndHTTP10CloseAfterResponse() async throws {
        try await S3TestServer.with { server in
            let signer = self.signer(server)
            let client = try RawHTTPClient(port: server.port)
            let response = try client.send(signer.sign(method: "GET", path: "/", headers: [("Connection", "close")]))
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.closesConnection)
            XCTAssertTrue(client.serverClosedConnection())

            let old = try RawHTTPClient(port: server.port)
            let request = signer.sign(method: "GET", path: "/")
            var head = "GET / HTTP/1.0\r\n"
            for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
            try old.sendRaw(head + "\r\n")
            let answer = try old.readResponse()
            XCTAssertEqual(answer.status, 200)
            XCTAssertEqual(try XMLTree.parse(answer.body).name, "ListAllMyBucketsResult")
            XCTAssertTrue(old.serverClosedConnection())
        }
    }

    /// A 304 Not Modified has no body; the connection stays in sync for the next request.
    func testNotModifiedHasNoBodyAndKeepsConnection() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let etag = try XCTUnwrap(try self.put(server, "bucket", "key", Array("cached".utf8)).header("ETag"))
            let signer = self.signer(server)
            let client = try RawHTTPClient(port: server.port)
            let notModified = try client.send(signer.sign(method: "GET", path: "/bucket/key", headers: [("If-None-Match", etag)]))
            XCTAssertEqual(notModified.status, 304)
            XCTAssertEqual(notModified.header("ETag"), etag)
            XCTAssertNotNil(notModified.header("x-amz-request-id"))
            let get = try client.send(signer.sign(method: "GET", path: "/bucket/key"))
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.bodyString, "cached")
        }
    }

    /// A PUT framed by `Transfer-Encoding: chunked` has no Content-Length and
    /// must still be accepted (S3 accepts it when the length is otherwise known; clients
    /// streaming from a pipe send it).
    func testChunkedTransferEncodingPutWithoutContentLengthIsAccepted() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 100_000, seed: 12)
            let signer = self.signer(server)
            let (headers, _) = self.signWithoutContentLength(
                signer, method: "PUT", path: "/bucket/chunked",
                headers: [("Transfer-Encoding", "chunked")], payloadHash: TestSigner.sha256Hex(data))
            let client = try RawHTTPClient(port: server.port)
            let response = try client.request(method: "PUT", path: "/bucket/chunked", headers: headers,
                                              body: self.httpChunked(data, pieceSize: 7_000))
            XCTAssertEqual(response.status, 200, response.bodyString)
            let get = try client.send(signer.sign(method: "GET", path: "/bucket/chunked"))
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.body, data)
        }
    }

    /// `Transfer-Encoding: chunked` around an aws-chunked body (no
    /// Content-Length, `x-amz-decoded-content-length` gives the size): both framings
    /// removed, the trailer verified.
    func testChunkedTransferEncodingAroundAWSChunkedBodyIsAccepted() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 70_000, seed: 13)
            let signer = self.signer(server)
            let checksum = TestSigner.checksumBase64(.crc32, of: data)
            let awsChunked = signer.awsChunkedBody(data, chunkSize: 16_384, seedSignature: nil,
                                                   trailers: [("x-amz-checksum-crc32", checksum)])
            let (headers, _) = self.signWithoutContentLength(
                signer, method: "PUT", path: "/bucket/both",
                headers: [("Transfer-Encoding", "chunked"), ("Content-Encoding", "aws-chunked"),
                          ("x-amz-decoded-content-length", String(data.count)),
                          ("x-amz-trailer", "x-amz-checksum-crc32")],
                payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            let client = try RawHTTPClient(port: server.port)
            let response = try client.request(method: "PUT", path: "/bucket/both", headers: headers,
                                              body: self.httpChunked(awsChunked, pieceSize: 5_000))
            XCTAssertEqual(response.status, 200, response.bodyString)
            XCTAssertEqual(response.header("x-amz-checksum-crc32"), checksum)
            let get = try client.send(signer.sign(method: "GET", path: "/bucket/both"))
            XCTAssertEqual(get.body, data)
            XCTAssertNil(get.header("Content-Encoding"), "aws-chunked is framing, not an object encoding")
        }
    }

    /// A PUT with neither Content-Length nor chunked transfer encoding: 411
    /// MissingContentLength, as AWS answers.
    func testPutWithoutContentLengthIsMissingContentLength() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let (headers, _) = self.signWithoutContentLength(self.signer(server), method: "PUT", path: "/bucket/key",
                                                             headers: [], payloadHash: SigV4.emptySHA256)
            let client = try RawHTTPClient(port: server.port)
            // `request` would add a Content-Length; write the head by hand.
            try client.sendRaw(RawHTTPClient.head(method: "PUT", path: "/bucket/key", headers: headers))
            let response = try client.readResponse()
            self.assertS3Error(response, status: 411, code: "MissingContentLength")
            XCTAssertEqual(try self.get(server, "bucket", "key").status, 404)
        }
    }

    /// A request line that is not HTTP gets a 400 and a closed connection; the server
    /// stays up and serves the next connection.
    func testGarbageRequestLineGets400AndServerKeepsServing() async throws {
        try await S3TestServer.with { server in
            let client = try RawHTTPClient(port: server.port)
            try client.sendRaw("\u{01}\u{02} this is not HTTP at all\r\n\r\n")
            let response = try client.readResponse()
            XCTAssertEqual(response.status, 400)
            XCTAssertTrue(client.serverClosedConnection())

            let bad = try RawHTTPClient(port: server.port)
            try bad.sendRaw("GET /bucket HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
            XCTAssertEqual(try bad.readResponse().status, 400)
            XCTAssertTrue(bad.serverClosedConnection())

            let list = try RawHTTPClient(port: server.port).send(self.signer(server).sign(method: "GET", path: "/"))
            XCTAssertEqual(list.status, 200)
        }
    }

    /// AWS sends `x-amz-request-id` on every response, success or error; the error
    /// document's RequestId is the same id.
    func testEveryResponseCarriesRequestId() async throws {
        try await S3TestServer.with { server in
            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server)
            var responses: [HTTPResponse] = []
            responses.append(try client.send(signer.sign(method: "GET", path: "/")))
            responses.append(try client.send(signer.sign(method: "PUT", path: "/bucket")))
            responses.append(try client.send(signer.sign(method: "PUT", path: "/bucket/key", body: [1, 2, 3])))
            responses.append(try client.send(signer.sign(method: "GET", path: "/bucket/key")))
            responses.append(try client.send(signer.sign(method: "HEAD", path: "/bucket/key")))
            responses.append(try client.send(signer.sign(method: "GET", path: "/bucket/missing")))
            responses.append(try client.send(signer.sign(method: "HEAD", path: "/bucket/missing")))
            responses.append(try client.send(signer.sign(method: "GET", path: "/bucket", query: [("website", nil)])))
            responses.append(try client.request(method: "GET", path: "/bucket/key"))  // anonymous
            responses.append(try client.send(signer.sign(method: "DELETE", path: "/bucket/key")))
            XCTAssertEqual(responses.map(\.status), [200, 200, 200, 200, 200, 404, 404, 404, 403, 204])
            var ids = Set<String>()
            for response in responses {
                guard let id = response.header("x-amz-request-id"), !id.isEmpty else {
                    XCTFail("no x-amz-request-id on a \(response.status)")
                    continue
                }
                ids.insert(id)
                if response.status >= 400, !response.body.isEmpty {
                    XCTAssertEqual(self.errorField("RequestId", response), id)
                }
            }
            XCTAssertEqual(ids.count, responses.count, "request ids are unique")
        }
    }

    /// The S3 error document: `<Error>` with Code, Message, Resource and RequestId, as
    /// `application/xml`.
    func testErrorBodyIsXMLWithCodeMessageResourceAndRequestId() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let response = try self.get(server, "bucket", "dir/missing key")
            XCTAssertEqual(response.status, 404)
            XCTAssertEqual(response.header("Content-Type"), "application/xml")
            XCTAssertEqual(response.header("Content-Length"), String(response.body.count))
            let document = try XMLTree.parse(response.body)
            XCTAssertEqual(document.name, "Error")
            XCTAssertEqual(document.child("Code")?.text, "NoSuchKey")
            XCTAssertEqual(document.child("Message")?.text.isEmpty, false)
            XCTAssertEqual(document.child("Key")?.text, "dir/missing key")
            XCTAssertEqual(document.child("Resource")?.text, "/bucket/dir/missing key")
            XCTAssertEqual(document.child("RequestId")?.text, response.header("x-amz-request-id"))
        }
    }

    /// HEAD errors have no body (AWS sends only the status and headers); the connection
    /// stays in sync for the next request.
    func testHeadErrorHasNoBody() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server)
            let head = try client.send(signer.sign(method: "HEAD", path: "/bucket/missing"))
            XCTAssertEqual(head.status, 404)
            XCTAssertEqual(head.header("Content-Length") ?? "0", "0")
            let headBucket = try client.send(signer.sign(method: "HEAD", path: "/no-such-bucket"))
            XCTAssertEqual(headBucket.status, 404)
            XCTAssertEqual(headBucket.header("Content-Length") ?? "0", "0")
            // A body after either HEAD response would be read as the next status line.
            let list = try client.send(signer.sign(method: "GET", path: "/"))
            XCTAssertEqual(list.status, 200)
            XCTAssertEqual(try XMLTree.parse(list.body).name, "ListAllMyBucketsResult")
        }
    }

    /// A 0-byte object round trips; its ETag is the MD5 of nothing, as on AWS.
    func testEmptyObjectRoundTrip() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let put = try self.put(server, "bucket", "empty", [])
            XCTAssertEqual(put.status, 200)
            XCTAssertEqual(put.header("ETag"), "\"d41d8cd98f00b204e9800998ecf8427e\"")
            let get = try self.get(server, "bucket", "empty")
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.header("Content-Length"), "0")
            XCTAssertEqual(get.body, [])
            XCTAssertEqual(get.header("ETag"), "\"d41d8cd98f00b204e9800998ecf8427e\"")
            let head = try self.get(server, "bucket", "empty", method: "HEAD")
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.header("Content-Length"), "0")
        }
    }

    /// An object above the in-memory threshold (256 KiB) goes out through sendfile; the
    /// bytes must be exact, whole and in ranges (inside, suffix, small and large).
    func testLargeObjectGetReturnsExactBytesWholeAndInRanges() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let data = self.randomBytes(count: 3 * 1024 * 1024 + 12_345, seed: 3)
            let put = try self.put(server, "bucket", "large", data, payload: .streamingSigned(chunkSize: 1 << 20))
            XCTAssertEqual(put.status, 200, put.bodyString)

            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server)
            let get = try client.send(signer.sign(method: "GET", path: "/bucket/large"))
            XCTAssertEqual(get.status, 200)
            XCTAssertEqual(get.header("Content-Length"), String(data.count))
            XCTAssertEqual(get.header("Accept-Ranges"), "bytes")
            XCTAssertTrue(get.body == data, "whole object differs")

            let ranges: [(header: String, range: Range<Int>)] = [
                ("bytes=1000000-2500000", 1_000_000..<2_500_001),   // sendfile, mid-object
                ("bytes=262100-262200", 262_100..<262_201),         // small, in memory
                ("bytes=-300000", (data.count - 300_000)..<data.count),
                ("bytes=3000000-", 3_000_000..<data.count),
            ]
            for (header, range) in ranges {
                let partial = try client.send(signer.sign(method: "GET", path: "/bucket/large", headers: [("Range", header)]))
                XCTAssertEqual(partial.status, 206, header)
                XCTAssertEqual(partial.header("Content-Range"),
                               "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(data.count)", header)
                XCTAssertEqual(partial.header("Content-Length"), String(range.count), header)
                XCTAssertTrue(partial.body == Array(data[range]), "\(header): bytes differ")
            }
            // The connection is still in sync after several sendfile responses.
            let head = try client.send(signer.sign(method: "HEAD", path: "/bucket/large"))
            XCTAssertEqual(head.header("Content-Length"), String(data.count))
        }
    }

    // MARK: - Routing

    /// Path style: `/bucket/key` on an IP host.
    func testPathStyleAddressing() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "path-bucket")
            XCTAssertEqual(try self.put(server, "path-bucket", "dir/file.txt", Array("path".utf8)).status, 200)
            let get = try self.get(server, "path-bucket", "dir/file.txt")
            XCTAssertEqual(get.bodyString, "path")
            XCTAssertEqual(try self.listKeys(server, "path-bucket"), ["dir/file.txt"])
        }
    }

    /// With a base domain configured, `bucket.DOMAIN:PORT` addresses the
    /// bucket (signed with that Host, as the SDKs do); IP hosts fall back to path style.
    func testVirtualHostedStyleAddressing() async throws {
        try await S3TestServer.with(domain: "localhost") { server in
            let host = "vhost-bucket.localhost:\(server.port)"
            let signer = self.signer(server, host: host)
            let client = try RawHTTPClient(port: server.port)
            XCTAssertEqual(try client.send(signer.sign(method: "PUT", path: "/")).status, 200)
            let put = try client.send(signer.sign(method: "PUT", path: "/a/b.txt", body: Array("virtual".utf8)))
            XCTAssertEqual(put.status, 200, put.bodyString)
            let get = try client.send(signer.sign(method: "GET", path: "/a/b.txt"))
            XCTAssertEqual(get.status, 200, get.bodyString)
            XCTAssertEqual(get.bodyString, "virtual")
            let list = try client.send(signer.sign(method: "GET", path: "/", query: [("list-type", "2")]))
            XCTAssertEqual(list.status, 200, list.bodyString)
            let document = try XMLTree.parse(list.body)
            XCTAssertEqual(document.child("Name")?.text, "vhost-bucket")
            XCTAssertEqual(document.children("Contents").compactMap { $0.child("Key")?.text }, ["a/b.txt"])
            let missing = try client.send(signer.sign(method: "GET", path: "/nope"))
            self.assertS3Error(missing, status: 404, code: "NoSuchKey")
            XCTAssertEqual(self.errorField("Resource", missing), "/vhost-bucket/nope")

            // The same object path style, on the IP.
            XCTAssertEqual(try self.get(server, "vhost-bucket", "a/b.txt").bodyString, "virtual")

            // SigV2 signs /bucket/key even for virtual-hosted requests (RESTAuthentication's
            // CanonicalizedResource); ``TestSigner/signV2`` signs the path as sent, so by hand.
            let date = TestSigner.httpDate(signer.now)
            var headers: [(name: String, value: String)] = [("Host", host), ("Date", date)]
            let stringToSign = TestSigner.v2StringToSign(method: "GET", headers: headers, dateOrExpires: date, amzQuery: [],
                                                         path: "/vhost-bucket/a/b.txt", query: [])
            headers.append(("Authorization",
                            "AWS \(S3TestServer.accessKey):\(SigV2.signature(secret: S3TestServer.secretKey, stringToSign: stringToSign))"))
            let v2 = try client.request(method: "GET", path: "/a/b.txt", headers: headers)
            XCTAssertEqual(v2.status, 200, v2.bodyString)
            XCTAssertEqual(v2.bodyString, "virtual")
        }
    }

    /// The domain is matched as a suffix, so a dotted bucket name works
    /// virtual-hosted (`my.dotted.bucket.localhost`) and path style.
    func testDottedBucketNameVirtualHostedAndPathStyle() async throws {
        try await S3TestServer.with(domain: "localhost") { server in
            try self.createBucket(server, "my.dotted.bucket")
            XCTAssertEqual(try self.put(server, "my.dotted.bucket", "k", Array("dots".utf8)).status, 200)
            XCTAssertEqual(try self.get(server, "my.dotted.bucket", "k").bodyString, "dots")
            let signer = self.signer(server, host: "my.dotted.bucket.localhost:\(server.port)")
            let get = try RawHTTPClient(port: server.port).send(signer.sign(method: "GET", path: "/k"))
            XCTAssertEqual(get.status, 200, get.bodyString)
            XCTAssertEqual(get.bodyString, "dots")
        }
    }

    /// A dotted bucket name on a server without a domain: path style only.
    func testDottedBucketNamePathStyle() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "logs.example.com")
            XCTAssertEqual(try self.put(server, "logs.example.com", "2024/01/01.log", Array("line".utf8)).status, 200)
            XCTAssertEqual(try self.get(server, "logs.example.com", "2024/01/01.log").bodyString, "line")
            XCTAssertEqual(try self.listKeys(server, "logs.example.com"), ["2024/01/01.log"])
        }
    }

    /// Sub-resources are never served as the plain operation: what Strata does not
    /// implement is 501 NotImplemented (a website PUT, a torrent GET), and a `?legal-hold`
    /// PUT on a bucket without Object Lock is S3's 400; neither overwrites the object.
    func testUnknownSubresourceIsNotImplemented() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            XCTAssertEqual(try self.put(server, "bucket", "key", Array("original".utf8)).status, 200)
            let client = try RawHTTPClient(port: server.port)
            let signer = self.signer(server)
            let website = try client.send(signer.sign(method: "PUT", path: "/bucket", query: [("website", nil)],
                                                      body: Array("<WebsiteConfiguration/>".utf8)))
            self.assertS3Error(website, status: 501, code: "NotImplemented")
            let hold = Array("<LegalHold><Status>ON</Status></LegalHold>".utf8)
            let putHold = try client.send(signer.sign(method: "PUT", path: "/bucket/key", query: [("legal-hold", nil)],
                                                      body: hold))
            self.assertS3Error(putHold, status: 400, code: "InvalidRequest")
            let torrent = try client.send(signer.sign(method: "GET", path: "/bucket/key", query: [("torrent", nil)]))
            self.assertS3Error(torrent, status: 501, code: "NotImplemented")
            XCTAssertEqual(try client.send(signer.sign(method: "GET", path: "/bucket/key")).bodyString, "original")
        }
    }

    /// Anonymous requests to a private bucket are refused with 403 AccessDenied, as AWS
    /// answers (S3AccessControlTests covers what ACLs and policies open up).
    func testAnonymousRequestIsAccessDenied() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            XCTAssertEqual(try self.put(server, "bucket", "key", [1]).status, 200)
            let client = try RawHTTPClient(port: server.port)
            self.assertS3Error(try client.request(method: "GET", path: "/bucket/key"), status: 403, code: "AccessDenied")
            self.assertS3Error(try client.request(method: "GET", path: "/bucket"), status: 403, code: "AccessDenied")
            self.assertS3Error(try client.request(method: "PUT", path: "/bucket/other", body: [1, 2]),
                               status: 403, code: "AccessDenied")
            XCTAssertEqual(try self.get(server, "bucket", "other").status, 404)
        }
    }

    /// Keys with spaces, `+`, `%`, unicode, `//`, `.` segments and a trailing
    /// `/` round trip byte for byte and list back exactly (S3 normalises none of them).
    func testKeysNeedingEscapesRoundTripAndListBackExactly() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let keys = [
                "with space", "a+plus", "100%", "%41 not decoded twice", "ünïcødé/日本語/🙂",
                "double//slash", "trailing/", "/leading", "dot/./segment", "dot/../up", "amp&eq=q?hash#",
                "xml <&'\"> chars", "tab\there",
            ]
            for (index, key) in keys.enumerated() {
                let response = try self.put(server, "bucket", key, Array("value \(index)".utf8))
                XCTAssertEqual(response.status, 200, "\(key): \(response.bodyString)")
            }
            for (index, key) in keys.enumerated() {
                let get = try self.get(server, "bucket", key)
                XCTAssertEqual(get.status, 200, key)
                XCTAssertEqual(get.bodyString, "value \(index)", key)
            }
            XCTAssertEqual(try self.listKeys(server, "bucket"), keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        }
    }

    /// A raw `+` in a path is a literal plus, not a space (S3 reads paths as
    /// RFC 3986, not as form encoding).
    func testRawPlusInPathIsLiteralPlus() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            let signer = self.signer(server)
            let client = try RawHTTPClient(port: server.port)
            let put = try client.send(signer.sign(method: "PUT", path: "/bucket/a+b", body: Array("plus".utf8)))
            XCTAssertEqual(put.status, 200, put.bodyString)
            XCTAssertEqual(try self.get(server, "bucket", "a+b").bodyString, "plus")
            XCTAssertEqual(try self.get(server, "bucket", "a b").status, 404)
        }
    }

    /// S3 keys are at most 1024 bytes of UTF-8: 1024 is fine, 1025 is 400 KeyTooLongError.
    func testKeyOf1024BytesIsAcceptedAnd1025IsKeyTooLong() async throws {
        try await S3TestServer.with { server in
            try self.createBucket(server, "bucket")
            // Multi-byte characters: the limit is in bytes, not characters.
            let longest = String(repeating: "é", count: 511) + "ab"
            XCTAssertEqual(longest.utf8.count, 1024)
            XCTAssertEqual(try self.put(server, "bucket", longest, [1]).status, 200)
            XCTAssertEqual(try self.get(server, "bucket", longest).body, [1])
            XCTAssertEqual(try self.listKeys(server, "bucket"), [longest])

            let tooLong = String(repeating: "k", count: 1025)
            self.assertS3Error(try self.put(server, "bucket", tooLong, [1]), status: 400, code: "KeyTooLongError")
            // AWS checks the length on reads too (s3fs maps the bodiless HEAD 400 to ENAMETOOLONG).
            self.assertS3Error(try self.get(server, "bucket", tooLong), status: 400, code: "KeyTooLongError")
            let head = try self.get(server, "bucket", tooLong, method: "HEAD")
            XCTAssertEqual(head.status, 400)
            XCTAssertEqual(head.body, [])
            XCTAssertEqual(try self.listKeys(server, "bucket"), [longest])
        }
    }
}

// MARK: - Shared by the wire-level test files

/// Helpers for tests that talk to an ``S3TestServer`` over a socket
/// (``S3HTTPServerTests``, ``S3AuthenticationTests``, ``S3BodyIntegrityTests``).
class S3WireTestCase: XCTestCase {
    /// A signer with the test server's credentials and Host (or `host`).
    func signer(_ server: S3TestServer, now: Date = Date(), host: String? = nil,
                accessKey: String = S3TestServer.accessKey, secret: String = S3TestServer.secretKey) -> TestSigner {
        TestSigner(accessKey: accessKey, secret: secret, now: now, host: host ?? server.host)
    }

    /// Creates `bucket` over HTTP; fails the test unless the server answers 200.
    func createBucket(_ server: S3TestServer, _ bucket: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let response = try RawHTTPClient(port: server.port).send(
            signer(server).sign(method: "PUT", path: S3Path.encode(bucket: bucket)))
        XCTAssertEqual(response.status, 200, "CreateBucket \(bucket): \(response.bodyString)", file: file, line: line)
    }

    /// PutObject on a fresh connection.
    func put(_ server: S3TestServer, _ bucket: String, _ key: String, _ body: [UInt8],
             payload: TestSigner.Payload = .signed, headers: [(name: String, value: String)] = []) throws -> HTTPResponse {
        try RawHTTPClient(port: server.port).send(
            signer(server).sign(method: "PUT", path: S3Path.encode(bucket: bucket, key: key), headers: headers,
                                body: body, payload: payload))
    }

    /// GetObject (or HeadObject with `method: "HEAD"`) on a fresh connection.
    func get(_ server: S3TestServer, _ bucket: String, _ key: String, method: String = "GET",
             headers: [(name: String, value: String)] = []) throws -> HTTPResponse {
        try RawHTTPClient(port: server.port).send(
            signer(server).sign(method: method, path: S3Path.encode(bucket: bucket, key: key), headers: headers))
    }

    /// Every key of `bucket`, from ListObjectsV2 (one page).
    func listKeys(_ server: S3TestServer, _ bucket: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let response = try RawHTTPClient(port: server.port).send(
            signer(server).sign(method: "GET", path: S3Path.encode(bucket: bucket), query: [("list-type", "2")]))
        XCTAssertEqual(response.status, 200, response.bodyString, file: file, line: line)
        let document = try XMLTree.parse(response.body)
        XCTAssertEqual(document.child("IsTruncated")?.text, "false", file: file, line: line)
        return document.children("Contents").compactMap { $0.child("Key")?.text }
    }

    /// Asserts an S3 error response: status, `<Code>`, and the error document's shape.
    func assertS3Error(_ response: HTTPResponse, status: Int, code: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, status, "expected \(code): \(response.bodyString)", file: file, line: line)
        XCTAssertEqual(errorField("Code", response), code, response.bodyString, file: file, line: line)
        XCTAssertNotNil(errorField("Message", response), file: file, line: line)
        XCTAssertEqual(errorField("RequestId", response), response.header("x-amz-request-id"), file: file, line: line)
    }

    /// A child of the `<Error>` document in the response body, if the body is one.
    func errorField(_ name: String, _ response: HTTPResponse) -> String? {
        guard let document = try? XMLTree.parse(response.body), document.name == "Error" else { return nil }
        return document.child(name)?.text
    }

    /// Deterministic pseudo-random bytes.
    func randomBytes(count: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count {
            withUnsafeBytes(of: rng.next()) { out += $0 }
        }
        return Array(out.prefix(count))
    }

    /// `bytes` framed as an HTTP/1.1 chunked body (pieces of `pieceSize`, last chunk, no trailers).
    func httpChunked(_ bytes: [UInt8], pieceSize: Int) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + pieceSize)
            out += Array("\(String(end - offset, radix: 16))\r\n".utf8) + bytes[offset..<end] + Array("\r\n".utf8)
            offset = end
        }
        return out + Array("0\r\n\r\n".utf8)
    }

    /// SigV4 header auth for a request without Content-Length (``TestSigner`` always adds
    /// and signs one on PUT). Returns the headers to send (Host first, Authorization last)
    /// and the seed signature. Transfer-Encoding is left unsigned, as botocore does.
    func signWithoutContentLength(_ signer: TestSigner, method: String, path: String,
                                  headers: [(name: String, value: String)],
                                  payloadHash: String) -> (headers: [(name: String, value: String)], signature: String) {
        var all: [(name: String, value: String)] = [("Host", signer.host)] + headers
        all.append(("x-amz-date", signer.timestamp))
        all.append(("x-amz-content-sha256", payloadHash))
        let signed = TestSigner.signedHeaderNames(all)
        let canonical = TestSigner.canonicalRequest(method: method, path: path, canonicalQuery: "", headers: all,
                                                    signedHeaders: signed, payloadHash: payloadHash)
        let signature = SigV4.signature(signingKey: signer.signingKey,
                                        stringToSign: signer.stringToSign(canonicalRequest: canonical))
        all.append(("Authorization",
                    "AWS4-HMAC-SHA256 Credential=\(signer.accessKey)/\(signer.scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"))
        return (all, signature)
    }

    /// Lowercase hex MD5 (the ETag of a single-part object).
    func md5Hex(_ data: [UInt8]) -> String {
        var hasher = MD5Hasher()
        hasher.update(data)
        return hasher.finalizeHex()
    }

    /// Base64 MD5, as sent in Content-MD5.
    func md5Base64(_ data: [UInt8]) -> String {
        var hasher = MD5Hasher()
        hasher.update(data)
        return hasher.finalizeBase64()
    }
}
