import Foundation
import XCTest
import ObjectStore
@testable import S3Server

/// What a browser needs, end to end on a real server: bucket CORS configuration, the
/// unsigned preflight, CORS headers on actual requests, and HTML form (POST) uploads.
final class S3BrowserTests: XCTestCase {
    static let corsDocument = CORSConfigurationTests.document("""
    <CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod>
      <AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>
      <MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
    <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
    """)

    /// Sends an unsigned request (a browser's preflight or form POST).
    static func unsigned(_ client: S3TestClient, _ method: String, _ path: String,
                         headers: [(name: String, value: String)], body: [UInt8] = []) async throws -> HTTPResponse {
        try await client.send(SignedRequest(method: method, path: path, query: "", headers: headers, body: body, signature: ""))
    }

    func testCORSConfigurationRoundTripAndValidation() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("web")
            let missing = try await client.expect(404, "GET", "/web", query: [("cors", nil)])
            XCTAssertEqual(missing.errorCode, "NoSuchCORSConfiguration")
            try await client.expect(200, "PUT", "/web", query: [("cors", nil)],
                                    headers: [("Content-MD5", contentMD5(Self.corsDocument))], body: Self.corsDocument)
            let got = try await client.expect(200, "GET", "/web", query: [("cors", nil)])
            XCTAssertEqual(try got.xml().texts("CORSRule", "AllowedOrigin"), ["https://app.example.com", "*"])
            // A bad document or a wrong Content-MD5 changes nothing.
            let bad = try await client.call("PUT", "/web", query: [("cors", nil)],
                                            body: CORSConfigurationTests.document("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>"))
            XCTAssertEqual(bad.errorCode, "InvalidRequest")
            let digest = try await client.call("PUT", "/web", query: [("cors", nil)], headers: [("Content-MD5", contentMD5([1]))],
                                               body: Self.corsDocument)
            XCTAssertEqual(digest.errorCode, "BadDigest")
            let still = try await client.expect(200, "GET", "/web", query: [("cors", nil)])
            XCTAssertEqual(try still.xml().texts("CORSRule", "AllowedOrigin").count, 2)
            try await client.expect(204, "DELETE", "/web", query: [("cors", nil)])
            try await client.expect(404, "GET", "/web", query: [("cors", nil)])
            let noBucket = try await client.call("GET", "/nope", query: [("cors", nil)])
            XCTAssertEqual(noBucket.errorCode, "NoSuchBucket")
        }
    }

    /// S3 "OPTIONS object": answered without credentials; the first matching rule's
    /// headers, or 403 AccessForbidden; 400 without Origin or request method.
    func testPreflight() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("web")
            let origin = ("Origin", "https://app.example.com")
            let disabled = try await Self.unsigned(client, "OPTIONS", "/web/k", headers: [origin, ("Access-Control-Request-Method", "PUT")])
            XCTAssertEqual(disabled.status, 403)
            XCTAssertEqual(disabled.errorCode, "AccessForbidden")
            XCTAssertTrue(disabled.bodyString.contains("CORS is not enabled for this bucket"))
            try await client.expect(200, "PUT", "/web", query: [("cors", nil)], body: Self.corsDocument)

            let allowed = try await Self.unsigned(client, "OPTIONS", "/web/k", headers: [
                origin, ("Access-Control-Request-Method", "PUT"), ("Access-Control-Request-Headers", "content-type, x-amz-date")])
            XCTAssertEqual(allowed.status, 200, allowed.bodyString)
            XCTAssertEqual(allowed.header("Access-Control-Allow-Origin"), "https://app.example.com")
            XCTAssertEqual(allowed.header("Access-Control-Allow-Methods"), "PUT, GET")
            XCTAssertEqual(allowed.header("Access-Control-Allow-Headers"), "content-type, x-amz-date")
            XCTAssertEqual(allowed.header("Access-Control-Expose-Headers"), "ETag")
            XCTAssertEqual(allowed.header("Access-Control-Max-Age"), "600")
            XCTAssertEqual(allowed.header("Access-Control-Allow-Credentials"), "true")
            XCTAssertEqual(allowed.header("Vary"), S3RequestHandler.corsVary)

            let any = try await Self.unsigned(client, "OPTIONS", "/web", headers: [("Origin", "http://other.test"), ("Access-Control-Request-Method", "GET")])
            XCTAssertEqual(any.status, 200)
            XCTAssertEqual(any.header("Access-Control-Allow-Origin"), "*")
            XCTAssertNil(any.header("Access-Control-Allow-Credentials"))

            let denied = try await Self.unsigned(client, "OPTIONS", "/web/k", headers: [("Origin", "http://other.test"), ("Access-Control-Request-Method", "PUT")])
            XCTAssertEqual(denied.status, 403)
            XCTAssertEqual(denied.errorCode, "AccessForbidden")
            XCTAssertTrue(denied.bodyString.contains("This CORS request is not allowed"))
            XCTAssertNil(denied.header("Access-Control-Allow-Origin"))

            let noOrigin = try await Self.unsigned(client, "OPTIONS", "/web/k", headers: [("Access-Control-Request-Method", "PUT")])
            XCTAssertEqual(noOrigin.status, 400)
            XCTAssertEqual(noOrigin.errorCode, "BadRequest")
            let noMethod = try await Self.unsigned(client, "OPTIONS", "/web/k", headers: [origin])
            XCTAssertEqual(noMethod.status, 400)
        }
    }

    /// Actual requests with a matching Origin carry the CORS headers, error responses
    /// included; others do not.
    func testActualRequestsCarryCORSHeaders() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("web")
            try await client.expect(200, "PUT", "/web", query: [("cors", nil)], body: Self.corsDocument)
            let put = try await client.expect(200, "PUT", "/web/k", headers: [("Origin", "https://app.example.com")], body: [1, 2])
            XCTAssertEqual(put.header("Access-Control-Allow-Origin"), "https://app.example.com")
            XCTAssertEqual(put.header("Access-Control-Expose-Headers"), "ETag")
            XCTAssertEqual(put.header("Vary"), S3RequestHandler.corsVary)
            let missing = try await client.expect(404, "GET", "/web/none", headers: [("Origin", "http://x.test")])
            XCTAssertEqual(missing.header("Access-Control-Allow-Origin"), "*")
            let notAllowed = try await client.expect(204, "DELETE", "/web/k", headers: [("Origin", "http://x.test")])
            XCTAssertNil(notAllowed.header("Access-Control-Allow-Origin"))
            let noOrigin = try await client.expect(404, "GET", "/web/k")
            XCTAssertNil(noOrigin.header("Access-Control-Allow-Origin"))
        }
    }

    /// A non-preflight request carrying Access-Control-Request-Method is matched against
    /// that method, as S3 does: a GET naming PUT matches the app's PUT rule, one naming
    /// DELETE matches no rule; error responses carry the matched rule's headers too.
    func testActualRequestNamingAMethodIsMatchedAgainstIt() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("web")
            try await client.expect(200, "PUT", "/web", query: [("cors", nil)], body: Self.corsDocument)
            try await client.put("web", "k", [1])
            let asPut = try await client.expect(200, "GET", "/web/k", headers: [("Origin", "http://x.test"),
                                                                                ("Access-Control-Request-Method", "PUT")])
            XCTAssertNil(asPut.header("Access-Control-Allow-Origin"), "only the app's origin may PUT")
            let appAsPut = try await client.expect(200, "GET", "/web/k", headers: [("Origin", "https://app.example.com"),
                                                                                   ("Access-Control-Request-Method", "PUT")])
            XCTAssertEqual(appAsPut.header("Access-Control-Allow-Origin"), "https://app.example.com")
            XCTAssertEqual(appAsPut.header("Access-Control-Expose-Headers"), "ETag", "the PUT rule's headers")
            let asDelete = try await client.expect(200, "GET", "/web/k", headers: [("Origin", "http://x.test"),
                                                                                   ("Access-Control-Request-Method", "DELETE")])
            XCTAssertNil(asDelete.header("Access-Control-Allow-Origin"), "no rule allows DELETE")
            let missing = try await client.expect(404, "GET", "/web/none", headers: [("Origin", "https://app.example.com"),
                                                                                    ("Access-Control-Request-Method", "PUT")])
            XCTAssertEqual(missing.header("Access-Control-Allow-Origin"), "https://app.example.com")
            XCTAssertEqual(missing.header("Access-Control-Expose-Headers"), "ETag")
        }
    }

    // MARK: - POST uploads

    static func postForm(fields: [(String, String)], file: [UInt8], filename: String = "photo.png",
                         boundary: String = "strataBoundary42", after: [(String, String)] = []) -> [UInt8] {
        var body: [UInt8] = []
        func field(_ name: String, _ value: String) {
            body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        for (name, value) in fields { field(name, value) }
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: image/png\r\n\r\n".utf8)
        body += file
        body += Array("\r\n".utf8)
        for (name, value) in after { field(name, value) }
        body += Array("--\(boundary)--\r\n".utf8)
        return body
    }

    /// The fields boto3's generate_presigned_post makes: policy and SigV4 signature.
    static func signedFields(bucket: String, key: String, extraConditions: [String] = [], expiresIn: TimeInterval = 600,
                             secret: String = S3TestServer.secretKey) -> [(String, String)] {
        let now = Date()
        let amzDate = AmzDate.formatISO8601Basic(Int64(now.timeIntervalSince1970))
        let day = String(amzDate.prefix(8))
        let credential = "\(S3TestServer.accessKey)/\(day)/us-east-1/s3/aws4_request"
        let formatter = ISO8601DateFormatter()
        let expiration = formatter.string(from: now.addingTimeInterval(expiresIn))
        let conditions = [#"{"bucket": "\#(bucket)"}"#, #"["starts-with", "$key", "\#(key.replacingOccurrences(of: "${filename}", with: ""))"]"#,
                          #"{"x-amz-algorithm": "AWS4-HMAC-SHA256"}"#, #"{"x-amz-credential": "\#(credential)"}"#,
                          #"{"x-amz-date": "\#(amzDate)"}"#] + extraConditions
        let policy = Data(#"{"expiration": "\#(expiration)", "conditions": [\#(conditions.joined(separator: ", "))]}"#.utf8).base64EncodedString()
        let signingKey = SigV4.signingKey(secret: secret, date: day, region: "us-east-1", service: "s3")
        let signature = SigV4.signature(signingKey: signingKey, stringToSign: policy)
        return [("key", key), ("x-amz-algorithm", "AWS4-HMAC-SHA256"), ("x-amz-credential", credential),
                ("x-amz-date", amzDate), ("policy", policy), ("x-amz-signature", signature)]
    }

    static func post(_ client: S3TestClient, _ bucket: String, _ body: [UInt8], boundary: String = "strataBoundary42")
        async throws -> HTTPResponse {
        try await unsigned(client, "POST", "/\(bucket)",
                           headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: body)
    }

    func testPostUploadStoresTheFileLikeAPut() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("forms")
            let file = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let fields = Self.signedFields(bucket: "forms", key: "uploads/${filename}",
                                           extraConditions: [#"["content-length-range", 1, 1000000]"#,
                                                             #"{"success_action_status": "201"}"#,
                                                             #"["starts-with", "$Content-Type", "image/"]"#,
                                                             #"{"x-amz-meta-owner": "me"}"#])
                + [("success_action_status", "201"), ("Content-Type", "image/png"), ("x-amz-meta-owner", "me")]
            let response = try await Self.post(client, "forms", Self.postForm(fields: fields, file: file, after: [("ignored", "x")]))
            XCTAssertEqual(response.status, 201, response.bodyString)
            XCTAssertEqual(try response.xml().text("Key"), "uploads/photo.png")
            XCTAssertEqual(try response.xml().text("ETag"), "\"\(md5Hex(file))\"")
            XCTAssertEqual(response.header("ETag"), "\"\(md5Hex(file))\"")
            let got = try await client.expect(200, "GET", "/forms/uploads/photo.png")
            XCTAssertEqual(got.body, file)
            XCTAssertEqual(got.header("Content-Type"), "image/png")
            XCTAssertEqual(got.header("x-amz-meta-owner"), "me")
        }
    }

    /// Each refusal answers S3's error and stores nothing.
    func testPostUploadDenials() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("forms")
            let base = Self.signedFields(bucket: "forms", key: "k", extraConditions: [#"["content-length-range", 2, 10]"#])
            func code(_ body: [UInt8]) async throws -> (Int, String?) {
                let response = try await Self.post(client, "forms", body)
                return (response.status, response.errorCode)
            }
            var tampered = base
            tampered[5].1 = String(repeating: "0", count: 64)
            await assertEqual(try await code(Self.postForm(fields: tampered, file: [1, 2, 3])).1, "SignatureDoesNotMatch")
            await assertEqual(try await code(Self.postForm(fields: base + [("x-amz-meta-a", "1")], file: [1, 2, 3])).1, "AccessDenied")
            await assertEqual(try await code(Self.postForm(fields: base, file: Array(repeating: 1, count: 11))).1, "EntityTooLarge")
            await assertEqual(try await code(Self.postForm(fields: base, file: [1])).1, "EntityTooSmall")
            let expired = Self.signedFields(bucket: "forms", key: "k", expiresIn: -60)
            await assertEqual(try await code(Self.postForm(fields: expired, file: [1, 2])).1, "AccessDenied")
            let wrongBucket = Self.signedFields(bucket: "other", key: "k")
            await assertEqual(try await code(Self.postForm(fields: wrongBucket, file: [1, 2])).1, "AccessDenied")
            await assertEqual(try await code(Self.postForm(fields: [("key", "k")], file: [1, 2])).1, "AccessDenied")
            var badPolicy = base
            badPolicy[4].1 = "bm90IGpzb24="
            let key = SigV4.signingKey(secret: S3TestServer.secretKey, date: String(base[3].1.prefix(8)), region: "us-east-1", service: "s3")
            badPolicy[5].1 = SigV4.signature(signingKey: key, stringToSign: badPolicy[4].1)
            await assertEqual(try await code(Self.postForm(fields: badPolicy, file: [1, 2])).1, "InvalidPolicyDocument")
            // No file part at all.
            let noFile = Array("--strataBoundary42\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--strataBoundary42--\r\n".utf8)
            await assertEqual(try await code(noFile).1, "InvalidArgument")
            let absent = try await client.call("HEAD", "/forms/k")
            XCTAssertEqual(absent.status, 404)
        }
    }

    /// A virtual-hosted form upload (`POST /` to `bucket.domain`): the bucket comes from
    /// the Host header, and so does the Location of the answer.
    func testPostUploadVirtualHosted() async throws {
        try await S3TestServer.with(domain: "localhost") { server in
            let client = S3TestClient(server)
            try await client.createBucket("forms")
            let host = "forms.localhost:\(server.port)"
            let body = Self.postForm(fields: Self.signedFields(bucket: "forms", key: "v/${filename}"), file: [9, 8, 7],
                                     filename: "a b.txt")
            let response = try await Self.unsigned(client, "POST", "/", headers: [
                ("Host", host), ("Content-Type", "multipart/form-data; boundary=strataBoundary42")], body: body)
            XCTAssertEqual(response.status, 204, response.bodyString)
            XCTAssertEqual(response.header("Location"), "http://\(host)/v/a%20b.txt")
            let got = try await client.expect(200, "GET", "/forms/v/a%20b.txt")
            XCTAssertEqual(got.body, [9, 8, 7])
        }
    }

    /// Checksum fields are verified and stored like a PUT's x-amz-checksum-* headers;
    /// tagging is not implemented yet; a body over 5 GiB is refused from its length.
    func testPostUploadChecksumsTaggingAndSize() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("forms")
            let file = Array("checksummed".utf8)
            let crc = Data(ChecksumHasher.digest(.crc32, of: file)).base64EncodedString()
            let good = Self.signedFields(bucket: "forms", key: "c", extraConditions: [#"{"x-amz-checksum-crc32": "\#(crc)"}"#])
                + [("x-amz-checksum-crc32", crc)]
            let stored = try await Self.post(client, "forms", Self.postForm(fields: good, file: file))
            XCTAssertEqual(stored.status, 204, stored.bodyString)
            XCTAssertEqual(stored.header("x-amz-checksum-crc32"), crc)
            let head = try await client.expect(200, "HEAD", "/forms/c", headers: [("x-amz-checksum-mode", "ENABLED")])
            XCTAssertEqual(head.header("x-amz-checksum-crc32"), crc)

            let wrong = Data(ChecksumHasher.digest(.crc32, of: [1])).base64EncodedString()
            let bad = Self.signedFields(bucket: "forms", key: "d", extraConditions: [#"{"x-amz-checksum-crc32": "\#(wrong)"}"#])
                + [("x-amz-checksum-crc32", wrong)]
            let refused = try await Self.post(client, "forms", Self.postForm(fields: bad, file: file))
            XCTAssertEqual(refused.errorCode, "BadDigest")
            try await client.expect(404, "HEAD", "/forms/d")

            let tagging = Self.signedFields(bucket: "forms", key: "t", extraConditions: [#"["starts-with", "$tagging", ""]"#])
                + [("tagging", "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>")]
            let tagged = try await Self.post(client, "forms", Self.postForm(fields: tagging, file: file))
            XCTAssertEqual(tagged.status, 204, tagged.bodyString)
            let tags = try await client.expect(200, "GET", "/forms/t", query: [("tagging", nil)]).xml()
            XCTAssertEqual(tags.texts("TagSet", "Tag", "Key"), ["team"], "the form's <Tagging> document tags the object")

            let huge = try await Self.unsigned(client, "POST", "/forms", headers: [
                ("Content-Type", "multipart/form-data; boundary=strataBoundary42"),
                ("Content-Length", String(6 * 1024 * 1024 * 1024 as Int64)), ("Expect", "100-continue")])
            XCTAssertEqual(huge.errorCode, "EntityTooLarge")
        }
    }
}
