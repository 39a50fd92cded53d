import Foundation
import XCTest
@testable import S3Server

/// Requests S3 refuses because they would reach more than their signer or sender meant:
/// a copy-source version id that does not decode, headers outside the signature, a
/// presigned URL valid for no time, a signature for another region, reserved bucket
/// names, a bucket owned by someone other than the caller expects. Each test is named for
/// the AWS behaviour it matches, and checks that the refused request changed nothing.
final class S3SecurityCorrectionsTests: S3WireTestCase {
    // MARK: - x-amz-copy-source version ids

    /// S3: a `versionId` in `x-amz-copy-source` that does not percent-decode (a broken
    /// escape, or bytes that are not UTF-8) is a malformed version id, 400 InvalidArgument,
    /// for CopyObject and UploadPartCopy alike; it is never read as "no version" (which
    /// would copy the current version instead of the one asked for). Nothing is created.
    func testCopySourceVersionIdThatDoesNotDecodeIsInvalidArgumentAndCopiesNothing() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.put("bucket", "source", Array("current version".utf8))
            for badVersion in ["%zz", "%C3%28", "abc%", "%E0%A4%A"] {
                let copy = try await client.call("PUT", "/bucket/copy",
                                                 headers: [("x-amz-copy-source", "/bucket/source?versionId=\(badVersion)")])
                self.assertS3Error(copy, status: 400, code: "InvalidArgument")
                try await client.expect(404, "HEAD", "/bucket/copy", message: "a refused copy creates nothing (\(badVersion))")

                let upload = try await client.expect(200, "POST", "/bucket/part-copy", query: [("uploads", nil)])
                let uploadId = try XCTUnwrap(try upload.xml().text("UploadId"))
                let part = try await client.call("PUT", "/bucket/part-copy",
                                                 query: [("partNumber", "1"), ("uploadId", uploadId)],
                                                 headers: [("x-amz-copy-source", "bucket/source?versionId=\(badVersion)")])
                self.assertS3Error(part, status: 400, code: "InvalidArgument")
                let parts = try await client.expect(200, "GET", "/bucket/part-copy", query: [("uploadId", uploadId)])
                XCTAssertEqual(try parts.xml().texts("Part", "PartNumber"), [], "no part was stored (\(badVersion))")
            }
        }
    }

    /// S3: a well-formed version id that names no version of the source is 404
    /// NoSuchVersion, and the copy is not made.
    func testCopySourceUnknownVersionIdIsNoSuchVersion() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.expect(200, "PUT", "/bucket", query: [("versioning", nil)],
                                    body: Array("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>".utf8))
            try await client.put("bucket", "source", Array("current version".utf8))
            let unknown = String(repeating: "A", count: 32)
            let copy = try await client.call("PUT", "/bucket/copy",
                                             headers: [("x-amz-copy-source", "/bucket/source?versionId=\(unknown)")])
            self.assertS3Error(copy, status: 404, code: "NoSuchVersion")
            try await client.expect(404, "HEAD", "/bucket/copy")
        }
    }

    // MARK: - Headers a signature must cover

    /// S3 requires `host` among a SigV4 request's signed headers: without it, 403
    /// AccessDenied "There were headers present in the request which were not signed"
    /// (`HeadersNotSigned: host`). Otherwise, with virtual-hosted style, a signature made
    /// for `/` of one bucket would list any other bucket.
    func testSigV4HeaderAuthWithoutSignedHostIsAccessDeniedHeadersNotSigned() async throws {
        try await S3TestServer.with(domain: "s3.test") { server in
            let client = S3TestClient(server)
            try await client.createBucket("mine")
            try await client.createBucket("theirs")
            try await client.put("theirs", "private.txt", [1, 2, 3])
            let signer = self.signer(server, host: "mine.s3.test:\(server.port)")
            // Signed for GET / on mine.s3.test, with host left out of SignedHeaders...
            var request = Self.signV4(signer, method: "GET", path: "/", headers: [("Host", signer.host)], signing: { $0 != "host" })
            // ...then sent to theirs.s3.test.
            request.setHeader("Host", "theirs.s3.test:\(server.port)")
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "AccessDenied")
            XCTAssertEqual(self.errorField("Message", response), "There were headers present in the request which were not signed")
            XCTAssertEqual(self.errorField("HeadersNotSigned", response), "host")
            XCTAssertFalse(response.bodyString.contains("private.txt"))
        }
    }

    /// S3 requires every `x-amz-*` header of a header-signed request to be signed: an
    /// unsigned one is 403 AccessDenied naming it in `HeadersNotSigned`. Otherwise anyone
    /// holding a signed PutObject could add `x-amz-copy-source` and copy what the signer
    /// may read. Nothing is written.
    func testSigV4HeaderAuthWithUnsignedAmzHeaderIsAccessDeniedHeadersNotSigned() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.put("bucket", "secret", Array("the signer's secret".utf8))
            var request = self.signer(server).sign(method: "PUT", path: "/bucket/upload", body: [])
            request.headers.insert(("x-amz-copy-source", "/bucket/secret"), at: 1)
            request.headers.insert(("X-Amz-Meta-Note", "unsigned"), at: 1)
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "AccessDenied")
            XCTAssertEqual(self.errorField("HeadersNotSigned", response), "x-amz-meta-note, x-amz-copy-source")
            try await client.expect(404, "HEAD", "/bucket/upload", message: "nothing was copied")
        }
    }

    /// S3 does not ask for `x-amz-content-sha256` among the signed headers (its value is
    /// the payload hash the signature ends with), and headers that are not `x-amz-*`
    /// (`x-amzn-trace-id`, `User-Agent`) may stay unsigned, as the SDKs leave them.
    func testSigV4AcceptsUnsignedContentSHA256AndNonAmzHeaders() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            let signer = self.signer(server)
            let body = Array("payload".utf8)
            var headers: [(name: String, value: String)] = [
                ("Host", signer.host), ("x-amz-date", signer.timestamp),
                ("x-amz-content-sha256", TestSigner.sha256Hex(body)), ("Content-Length", String(body.count)),
            ]
            var request = Self.signV4(signer, method: "PUT", path: "/bucket/key", headers: headers, body: body,
                                      signing: { $0 != "x-amz-content-sha256" })
            request.headers.insert(("X-Amzn-Trace-Id", "Root=1-abc"), at: 1)
            request.headers.insert(("User-Agent", "test"), at: 1)
            let put = try RawHTTPClient(port: server.port).send(request)
            XCTAssertEqual(put.status, 200, put.bodyString)
            // The unsigned hash is still the signed payload hash: a wrong one fails.
            headers[2].value = TestSigner.sha256Hex([1])
            let tampered = Self.signV4(signer, method: "PUT", path: "/bucket/other", headers: headers, body: body,
                                       signing: { $0 != "x-amz-content-sha256" })
            let refused = try RawHTTPClient(port: server.port).send(tampered)
            XCTAssertNotEqual(refused.status, 200, refused.bodyString)
            try await client.expect(404, "HEAD", "/bucket/other")
        }
    }

    /// S3 applies the same rule to presigned URLs: an `x-amz-*` header sent with the
    /// request but not in `X-Amz-SignedHeaders` (here `x-amz-tagging` and `x-amz-acl` on a
    /// presigned PUT) is 403 AccessDenied with `HeadersNotSigned`, and nothing is stored.
    /// Signed ones work; `x-amz-content-sha256` may come unsigned.
    func testPresignedURLWithUnsignedAmzHeaderIsAccessDeniedHeadersNotSigned() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            let signer = self.signer(server)
            var request = signer.presignV4(method: "PUT", path: "/bucket/upload")
            request.headers += [("x-amz-tagging", "owner=mallory"), ("x-amz-acl", "public-read"), ("Content-Length", "3")]
            request.body = [1, 2, 3]
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "AccessDenied")
            XCTAssertEqual(self.errorField("HeadersNotSigned", response), "x-amz-tagging, x-amz-acl")
            try await client.expect(404, "HEAD", "/bucket/upload", message: "nothing was stored")

            var signed = signer.presignV4(method: "PUT", path: "/bucket/upload", headers: [("x-amz-tagging", "owner=alice")])
            signed.headers += [("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("Content-Length", "3")]
            signed.body = [1, 2, 3]
            let put = try RawHTTPClient(port: server.port).send(signed)
            XCTAssertEqual(put.status, 200, put.bodyString)
        }
    }

    /// S3 requires `host` in a presigned URL's `X-Amz-SignedHeaders` too: 403 AccessDenied
    /// with `HeadersNotSigned: host`.
    func testPresignedURLWithoutSignedHostIsAccessDeniedHeadersNotSigned() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.put("bucket", "key", [7])
            let signer = self.signer(server)
            let request = Self.presignV4(signer, method: "GET", path: "/bucket/key",
                                         headers: [("Host", signer.host), ("x-amz-meta-x", "1")], signing: { $0 != "host" })
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "AccessDenied")
            XCTAssertEqual(self.errorField("HeadersNotSigned", response), "host")
        }
    }

    // MARK: - Presigned URL expiry

    /// S3: a presigned URL with `X-Amz-Expires=0` has expired when it arrives: 403
    /// AccessDenied "Request has expired", with `X-Amz-Expires`, `Expires` and
    /// `ServerTime` in the error document.
    func testPresignedURLWithExpiresZeroIsAlreadyExpired() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bucket")
            try await client.put("bucket", "key", [7])
            let request = self.signer(server).presignV4(method: "GET", path: "/bucket/key", expires: 0)
            let response = try RawHTTPClient(port: server.port).send(request)
            self.assertS3Error(response, status: 403, code: "AccessDenied")
            XCTAssertEqual(self.errorField("Message", response), "Request has expired")
            XCTAssertEqual(self.errorField("X-Amz-Expires", response), "0")
            XCTAssertNotNil(self.errorField("Expires", response))
            XCTAssertNotNil(self.errorField("ServerTime", response))
            XCTAssertFalse(response.body == [7])
            let put = self.signer(server).presignV4(method: "PUT", path: "/bucket/new", headers: [("Content-Length", "0")],
                                                    expires: 0)
            self.assertS3Error(try RawHTTPClient(port: server.port).send(put), status: 403, code: "AccessDenied")
            try await client.expect(404, "HEAD", "/bucket/new")
        }
    }

    // MARK: - Signing region

    /// S3: a request signed for another region than the endpoint's is 400
    /// AuthorizationHeaderMalformed ("the region 'us-east-1' is wrong; expecting
    /// 'eu-west-1'") with the expected region in `<Region>`; a presigned URL gets
    /// AuthorizationQueryParametersError with the same `<Region>`. Nothing is written.
    func testRequestSignedForAnotherRegionIsAuthorizationHeaderMalformedNamingTheRegion() async throws {
        try await S3TestServer.with(configure: { $0.region = "eu-west-1"; $0.signingRegion = "eu-west-1" }) { server in
            var eu = self.signer(server)
            eu.region = "eu-west-1"
            XCTAssertEqual(try RawHTTPClient(port: server.port).send(eu.sign(method: "PUT", path: "/bucket")).status, 200)

            let us = self.signer(server)  // us-east-1
            let put = try RawHTTPClient(port: server.port).send(us.sign(method: "PUT", path: "/bucket/key", body: [1]))
            self.assertS3Error(put, status: 400, code: "AuthorizationHeaderMalformed")
            XCTAssertEqual(self.errorField("Message", put),
                           "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'")
            XCTAssertEqual(self.errorField("Region", put), "eu-west-1")

            let presigned = try RawHTTPClient(port: server.port).send(us.presignV4(method: "GET", path: "/bucket"))
            self.assertS3Error(presigned, status: 400, code: "AuthorizationQueryParametersError")
            XCTAssertEqual(self.errorField("Message", presigned),
                           "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; expecting 'eu-west-1'")
            XCTAssertEqual(self.errorField("Region", presigned), "eu-west-1")

            let head = try RawHTTPClient(port: server.port).send(eu.sign(method: "HEAD", path: "/bucket/key"))
            XCTAssertEqual(head.status, 404, "the refused PUT stored nothing")
            XCTAssertEqual(try RawHTTPClient(port: server.port).send(eu.presignV4(method: "GET", path: "/bucket")).status, 200)
        }
    }

    /// Without a configured signing region, any region is accepted (the signature still
    /// covers the one the client chose), as before.
    func testAnyRegionIsAcceptedWhenNoneIsConfigured() async throws {
        try await S3TestServer.with { server in
            var signer = self.signer(server)
            signer.region = "US"
            XCTAssertEqual(try RawHTTPClient(port: server.port).send(signer.sign(method: "PUT", path: "/bucket")).status, 200)
            signer.region = "ap-south-1"
            XCTAssertEqual(try RawHTTPClient(port: server.port).send(signer.presignV4(method: "GET", path: "/bucket")).status, 200)
        }
    }

    // MARK: - Reserved bucket names

    /// S3 keeps the prefixes `xn--`, `sthree-`, `amzn-s3-demo-` and the suffixes
    /// `-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3` for itself: CreateBucket is
    /// 400 InvalidBucketName and no bucket is made. The same words elsewhere in a name
    /// are fine.
    func testCreateBucketWithReservedPrefixOrSuffixIsInvalidBucketName() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            let reserved = ["xn--bcher-kva", "sthree-bucket", "amzn-s3-demo-bucket", "data-s3alias", "data--ol-s3",
                            "data.mrap", "data--x-s3", "data--table-s3"]
            for name in reserved {
                let response = try await client.call("PUT", "/\(name)")
                self.assertS3Error(response, status: 400, code: "InvalidBucketName")
                XCTAssertEqual(self.errorField("BucketName", response), name)
                try await client.expect(404, "HEAD", "/\(name)", message: "\(name) was not created")
            }
            for name in ["xn-bucket", "my-sthree-bucket", "amzn-s3-demo", "s3alias-data", "data-ol-s3", "mrap.data", "data-x-s3"] {
                try await client.expect(200, "PUT", "/\(name)", message: name)
            }
        }
    }

    // MARK: - x-amz-expected-bucket-owner

    static let usersFile = "alice-key alice-secret alice-id Alice\nbob-key bob-secret bob-id Bob\n"

    func withUsers(_ body: (S3TestServer, _ alice: S3TestClient, _ bob: S3TestClient) async throws -> Void) async throws {
        try await S3TestServer.with(configure: {
            $0.users = try! UserDirectory(root: $0.credentials, usersFile: Self.usersFile)
        }) { server in
            try await body(server, S3TestClient(server, credentials: ("alice-key", "alice-secret")),
                           S3TestClient(server, credentials: ("bob-key", "bob-secret")))
        }
    }

    /// S3 compares `x-amz-expected-bucket-owner` with the bucket owner on every operation
    /// on a bucket: when it differs, 403 AccessDenied and nothing happens; when it matches,
    /// the operation runs. Strata's owners are canonical user ids.
    func testExpectedBucketOwnerThatDiffersIsAccessDeniedOnEveryBucketOperation() async throws {
        try await withUsers { _, alice, _ in
            try await alice.createBucket("alices")
            try await alice.put("alices", "key", [1, 2, 3])
            let wrong = [(name: "x-amz-expected-bucket-owner", value: "bob-id")]
            let deleteDocument = Array("<Delete><Object><Key>key</Key></Object></Delete>".utf8)
            let operations: [(String, String, [(name: String, value: String?)], [UInt8])] = [
                ("HEAD", "/alices", [], []),
                ("GET", "/alices", [("list-type", "2")], []),
                ("GET", "/alices", [("acl", nil)], []),
                ("GET", "/alices", [("versioning", nil)], []),
                ("GET", "/alices/key", [], []),
                ("HEAD", "/alices/key", [], []),
                ("PUT", "/alices/new", [], [9]),
                ("POST", "/alices/new", [("uploads", nil)], []),
                ("DELETE", "/alices/key", [], []),
                ("POST", "/alices", [("delete", nil)], deleteDocument),
                ("PUT", "/alices", [("tagging", nil)], Array("<Tagging><TagSet></TagSet></Tagging>".utf8)),
                ("DELETE", "/alices", [], []),
            ]
            for (method, path, query, body) in operations {
                var headers = wrong
                if query.contains(where: { $0.name == "delete" }) { headers.append(("Content-MD5", contentMD5(body))) }
                let response = try await alice.call(method, path, query: query, headers: headers, body: body)
                XCTAssertEqual(response.status, 403, "\(method) \(path) \(query): \(response.bodyString)")
                if method != "HEAD" { XCTAssertEqual(response.errorCode, "AccessDenied", "\(method) \(path)") }
            }
            // Nothing changed: the object is there, nothing new was written, no upload began.
            let get = try await alice.expect(200, "GET", "/alices/key")
            XCTAssertEqual(get.body, [1, 2, 3])
            try await alice.expect(404, "HEAD", "/alices/new")
            let uploads = try await alice.expect(200, "GET", "/alices", query: [("uploads", nil)])
            XCTAssertEqual(try uploads.xml().texts("Upload", "Key"), [])

            // The owner's canonical id matches.
            let right = [(name: "x-amz-expected-bucket-owner", value: "alice-id")]
            try await alice.expect(200, "GET", "/alices", query: [("list-type", "2")], headers: right)
            try await alice.expect(200, "PUT", "/alices/new", headers: right, body: [9])
            try await alice.expect(200, "HEAD", "/alices", headers: right)
        }
    }

    /// S3 checks the owner even for a caller the bucket lets in: Bob, granted access by
    /// Alice's policy, is refused when he expects the bucket to be his own.
    func testExpectedBucketOwnerIsCheckedForOtherUsersToo() async throws {
        try await withUsers { _, alice, bob in
            try await alice.createBucket("shared")
            let policy = """
                {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/Bob"},\
                "Action":["s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]}]}
                """
            try await alice.expect(204, "PUT", "/shared", query: [("policy", nil)], body: Array(policy.utf8))
            try await bob.expect(200, "PUT", "/shared/bobs", body: [1])
            let mine = [(name: "x-amz-expected-bucket-owner", value: "bob-id")]
            let refused = try await bob.call("PUT", "/shared/bobs-too", headers: mine, body: [1])
            self.assertS3Error(refused, status: 403, code: "AccessDenied")
            try await alice.expect(404, "HEAD", "/shared/bobs-too")
            try await bob.expect(200, "PUT", "/shared/bobs-too", headers: [("x-amz-expected-bucket-owner", "alice-id")], body: [1])
        }
    }

    /// S3: `x-amz-source-expected-bucket-owner` is checked against the copy source's
    /// bucket (403 AccessDenied, no copy), `x-amz-expected-bucket-owner` against the
    /// destination's. A bucket that does not exist is NoSuchBucket whatever the header says.
    func testSourceExpectedBucketOwnerIsCheckedOnCopy() async throws {
        try await withUsers { _, alice, _ in
            try await alice.createBucket("copy-from")
            try await alice.createBucket("copy-to")
            try await alice.put("copy-from", "key", [1, 2, 3])
            let refused = try await alice.call("PUT", "/copy-to/copy", headers: [
                ("x-amz-copy-source", "/copy-from/key"), ("x-amz-source-expected-bucket-owner", "bob-id"),
                ("x-amz-expected-bucket-owner", "alice-id"),
            ])
            self.assertS3Error(refused, status: 403, code: "AccessDenied")
            try await alice.expect(404, "HEAD", "/copy-to/copy")
            try await alice.expect(200, "PUT", "/copy-to/copy", headers: [
                ("x-amz-copy-source", "/copy-from/key"), ("x-amz-source-expected-bucket-owner", "alice-id"),
                ("x-amz-expected-bucket-owner", "alice-id"),
            ])
            let missing = try await alice.call("GET", "/nowhere", query: [("list-type", "2")],
                                               headers: [("x-amz-expected-bucket-owner", "bob-id")])
            self.assertS3Error(missing, status: 404, code: "NoSuchBucket")
        }
    }

    // MARK: - Helpers

    /// SigV4 header auth over exactly `headers` (plus x-amz-date and x-amz-content-sha256
    /// when absent), signing only the names `signing` accepts: for requests a well-behaved
    /// client would not make.
    static func signV4(_ signer: TestSigner, method: String, path: String, headers: [(name: String, value: String)],
                       body: [UInt8] = [], signing: (String) -> Bool) -> SignedRequest {
        var all = headers
        if !all.contains(where: { $0.name.lowercased() == "x-amz-date" }) { all.append(("x-amz-date", signer.timestamp)) }
        if !all.contains(where: { $0.name.lowercased() == "x-amz-content-sha256" }) {
            all.append(("x-amz-content-sha256", TestSigner.sha256Hex(body)))
        }
        let payloadHash = all.first { $0.name.lowercased() == "x-amz-content-sha256" }!.value
        let signed = TestSigner.signedHeaderNames(all).filter(signing)
        let canonical = TestSigner.canonicalRequest(method: method, path: path, canonicalQuery: "", headers: all,
                                                    signedHeaders: signed, payloadHash: payloadHash)
        let signature = SigV4.signature(signingKey: signer.signingKey, stringToSign: signer.stringToSign(canonicalRequest: canonical))
        all.append(("Authorization",
                    "AWS4-HMAC-SHA256 Credential=\(signer.accessKey)/\(signer.scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"))
        return SignedRequest(method: method, path: path, query: "", headers: all, body: body, signature: signature)
    }

    /// A SigV4 presigned URL request carrying `headers`, of which only the names `signing`
    /// accepts are in `X-Amz-SignedHeaders`.
    static func presignV4(_ signer: TestSigner, method: String, path: String, headers: [(name: String, value: String)],
                          signing: (String) -> Bool) -> SignedRequest {
        let signed = TestSigner.signedHeaderNames(headers).filter(signing)
        let items: [(name: String, value: String?)] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "\(signer.accessKey)/\(signer.scope)"),
            ("X-Amz-Date", signer.timestamp), ("X-Amz-Expires", "600"), ("X-Amz-SignedHeaders", signed.joined(separator: ";")),
        ]
        let canonical = TestSigner.canonicalRequest(method: method, path: path, canonicalQuery: TestSigner.canonicalQuery(items),
                                                    headers: headers, signedHeaders: signed, payloadHash: "UNSIGNED-PAYLOAD")
        let signature = SigV4.signature(signingKey: signer.signingKey, stringToSign: signer.stringToSign(canonicalRequest: canonical))
        return SignedRequest(method: method, path: path, query: TestSigner.rawQuery(items + [("X-Amz-Signature", signature)]),
                             headers: headers, body: [], signature: signature)
    }
}
