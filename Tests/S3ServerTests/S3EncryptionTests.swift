import Crypto
import Foundation
import ObjectStore
import StrataTestSupport
import XCTest
@testable import S3Server

/// Server-side encryption as S3 defines it: SSE-S3, SSE-KMS (a local key list and the
/// AWS-managed aws/s3 key), SSE-C and bucket default encryption; the headers, ETags and
/// errors AWS answers with; objects really sealed at rest.
final class S3EncryptionTests: XCTestCase {
    static let kmsKey = "11111111-2222-3333-4444-555555555555"

    /// A server whose key list has one KMS key with an alias.
    func withServer<T>(options: ObjectStore.Options = .init(), _ body: (S3TestServer, S3TestClient) async throws -> T) async throws -> T {
        let ring = try KeyRing.parseKeyList("\(Self.kmsKey) alias/app # the app's key\n", masterKey: .random())
        return try await S3TestServer.with(options: options, configure: { $0.keyRing = ring }) { server in
            let client = S3TestClient(server)
            try await client.createBucket("enc")
            return try await body(server, client)
        }
    }

    struct Customer {
        var key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        var headers: [(name: String, value: String)] { headers(prefix: "x-amz-server-side-encryption-customer-") }
        var copySourceHeaders: [(name: String, value: String)] { headers(prefix: "x-amz-copy-source-server-side-encryption-customer-") }
        var md5: String { Data(Insecure.MD5.hash(data: key)).base64EncodedString() }
        func headers(prefix: String) -> [(name: String, value: String)] {
            [(prefix + "algorithm", "AES256"), (prefix + "key", Data(key).base64EncodedString()), (prefix + "key-MD5", md5)]
        }
    }

    static func code(_ response: HTTPResponse) -> String? { try? response.xml().text("Code") }

    // MARK: - Request headers

    func testEncryptionHeadersAreCheckedAsS3ChecksThem() throws {
        func error(_ headers: [String: String]) -> S3Error? {
            do { _ = try RequestedEncryption { headers[$0] }; return nil } catch { return error as? S3Error }
        }
        let customer = Customer()
        let c = Dictionary(uniqueKeysWithValues: customer.headers.map { ($0.name.lowercased(), $0.value) })
        XCTAssertNil(error(c))
        XCTAssertNil(error(["x-amz-server-side-encryption": "AES256"]))
        XCTAssertNil(error(["x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k"]))
        // SSE-C with another method.
        var both = c
        both["x-amz-server-side-encryption"] = "AES256"
        XCTAssertEqual(error(both)?.code, "InvalidArgument")
        XCTAssertEqual(error(both)?.field("ArgumentValue"), "AES256")
        XCTAssertTrue(error(both)?.message.contains("incompatible") == true)
        // Unknown method, KMS key id without aws:kms.
        XCTAssertEqual(error(["x-amz-server-side-encryption": "AES128"])?.message, "The encryption method specified is not supported")
        XCTAssertEqual(error(["x-amz-server-side-encryption-aws-kms-key-id": "k"])?.code, "InvalidArgument")
        XCTAssertEqual(error(["x-amz-server-side-encryption": "AES256", "x-amz-server-side-encryption-aws-kms-key-id": "k"])?.code,
                       "InvalidArgument")
        // The encryption context: base64 of a JSON object of strings.
        let good = Data(#"{"app":"x"}"#.utf8).base64EncodedString(), nested = Data(#"{"a":{"b":"c"}}"#.utf8).base64EncodedString()
        XCTAssertNil(error(["x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": good]))
        for bad in [nested, "not base64!", Data("[1]".utf8).base64EncodedString()] {
            XCTAssertEqual(error(["x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-context": bad])?.code,
                           "InvalidArgument", bad)
        }
        // SSE-C parts, in S3's order: algorithm, key, algorithm value, MD5, key length.
        var noAlgorithm = c
        noAlgorithm["x-amz-server-side-encryption-customer-algorithm"] = nil
        XCTAssertTrue(error(noAlgorithm)?.message.contains("valid encryption algorithm") == true)
        var noKey = c
        noKey["x-amz-server-side-encryption-customer-key"] = nil
        XCTAssertTrue(error(noKey)?.message.contains("appropriate secret key") == true)
        var otherAlgorithm = c
        otherAlgorithm["x-amz-server-side-encryption-customer-algorithm"] = "AES512"
        XCTAssertEqual(error(otherAlgorithm)?.code, "InvalidEncryptionAlgorithmError")
        var wrongMD5 = c
        wrongMD5["x-amz-server-side-encryption-customer-key-md5"] = Customer().md5
        XCTAssertEqual(error(wrongMD5)?.message, "The calculated MD5 hash of the key did not match the hash that was provided.")
        let short = [UInt8](repeating: 7, count: 16)
        var shortKey = c
        shortKey["x-amz-server-side-encryption-customer-key"] = Data(short).base64EncodedString()
        shortKey["x-amz-server-side-encryption-customer-key-md5"] = Data(Insecure.MD5.hash(data: short)).base64EncodedString()
        XCTAssertEqual(error(shortKey)?.message, "The secret key was invalid for the specified algorithm.")
    }

    func testCustomerKeysTravelOnlyOverTLSOrLoopback() {
        XCTAssertTrue(S3RequestHandler.takesCustomerKeys(tls: false, remoteAddress: "127.0.0.1"))
        XCTAssertTrue(S3RequestHandler.takesCustomerKeys(tls: false, remoteAddress: "::1"))
        XCTAssertTrue(S3RequestHandler.takesCustomerKeys(tls: true, remoteAddress: "192.0.2.7"))
        XCTAssertFalse(S3RequestHandler.takesCustomerKeys(tls: false, remoteAddress: "192.0.2.7"),
                       "AWS refuses SSE-C over plain HTTP")
    }

    // MARK: - Keys

    func testKMSKeyIdsResolveToARNsAsAWSKMSNamesThem() throws {
        let ring = try KeyRing.parseKeyList("# keys\n\(Self.kmsKey) alias/app alias/other\nmrk-0123456789abcdef0123456789abcdef\n",
                                            masterKey: .random())
        let arn = "arn:aws:kms:us-east-1:123456789012:key/\(Self.kmsKey)"
        func resolve(_ name: String?) throws -> String { try ring.resolve(name, region: "us-east-1", account: "123456789012") }
        XCTAssertEqual(try resolve(Self.kmsKey), arn)
        XCTAssertEqual(try resolve(arn), arn)
        XCTAssertEqual(try resolve("alias/app"), arn)
        XCTAssertEqual(try resolve("alias/other"), arn)
        XCTAssertEqual(try resolve("arn:aws:kms:us-east-1:123456789012:alias/app"), arn)
        XCTAssertEqual(try resolve("mrk-0123456789abcdef0123456789abcdef"),
                       "arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef")
        // No key id, and the managed alias: the aws/s3 key, stable for one master key.
        let managed = try resolve(nil)
        XCTAssertEqual(try resolve("alias/aws/s3"), managed)
        XCTAssertTrue(managed.hasPrefix("arn:aws:kms:us-east-1:123456789012:key/"))
        XCTAssertEqual(managed, try KeyRing(masterKey: ring.masterKey).resolve(nil, region: "us-east-1", account: "123456789012"))
        func failure(_ name: String) -> String? {
            do { _ = try resolve(name); return nil } catch { return "\((error as? S3Error)?.code ?? "?"): \((error as? S3Error)?.message ?? "")" }
        }
        XCTAssertEqual(failure("fake-key-id"), "KMS.NotFoundException: Invalid keyId 'fake-key-id'")
        XCTAssertEqual(failure("aws/s3"), "KMS.NotFoundException: Invalid keyId 'aws/s3'")
        XCTAssertEqual(failure("99999999-2222-3333-4444-555555555555"),
                       "KMS.NotFoundException: Key 'arn:aws:kms:us-east-1:123456789012:key/99999999-2222-3333-4444-555555555555' does not exist")
        XCTAssertEqual(failure("arn:aws:kms:us-west-2:123456789012:key/\(Self.kmsKey)"), "KMS.NotFoundException: Invalid arn us-west-2")
        XCTAssertEqual(failure("alias/none"), "KMS.NotFoundException: Alias arn:aws:kms:us-east-1:123456789012:alias/none is not found.")
        // A malformed list says which line.
        XCTAssertThrowsError(try KeyRing.parseKeyList("ok-key\nbad/key\n", masterKey: .random())) {
            XCTAssertTrue("\($0)".contains("line 2"))
        }
        XCTAssertThrowsError(try KeyRing.parseKeyList("k1 alias/aws/x\n", masterKey: .random()))
        XCTAssertThrowsError(try KeyRing.parseKeyList("k1 alias/a\nk2 alias/a\n", masterKey: .random()))
    }

    func testTheMasterKeyFileIsMadeOncePrivateAndReadBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/master.key"
        XCTAssertThrowsError(try KeyRing.masterKey(at: path, create: false), "--master-key-file must exist")
        let made = try KeyRing.masterKey(at: path, create: true)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)
        XCTAssertEqual(try KeyRing.masterKey(at: path, create: true), made, "an existing key is read, never replaced")
        try "not a key\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try KeyRing.masterKey(at: path, create: true))
    }

    func testBucketEncryptionDocumentsAreCheckedAsS3ChecksThem() throws {
        func parse(_ rule: String) throws -> BucketEncryption {
            try BucketEncryption.parse(bytes("<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(rule)</ServerSideEncryptionConfiguration>"))
        }
        func code(_ rule: String) -> String? {
            do { _ = try parse(rule); return nil } catch { return (error as? S3Error)?.code }
        }
        let kms = try parse("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/app</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule>")
        XCTAssertEqual(kms, BucketEncryption(kind: .kms, kmsMasterKeyID: "alias/app", bucketKeyEnabled: true))
        XCTAssertEqual(try BucketEncryption.parse(kms.document()), kms, "GET returns what PUT stored")
        XCTAssertEqual(code("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES128</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"), "MalformedXML")
        XCTAssertEqual(code(""), "MalformedXML", "no rule")
        XCTAssertEqual(code("<Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"), "MalformedXML")
        let aes = "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
        XCTAssertEqual(code(aes + aes), "MalformedXML", "two rules")
        XCTAssertEqual(code("<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>"),
                       "InvalidArgument", "a KMS key with AES256")
    }

    // MARK: - Over HTTP

    func testEachKindRoundTripsWithTheHeadersAWSSends() async throws {
        try await withServer { server, client in
            let data = pattern(3, 200_000) + Array("MARKER-SSE-S3".utf8) + pattern(4, 100)
            // SSE-S3: the MD5 ETag.
            let put = try await client.put("enc", "s3", data, headers: [("x-amz-server-side-encryption", "AES256")])
            XCTAssertEqual(put.header("x-amz-server-side-encryption"), "AES256")
            XCTAssertEqual(put.header("ETag"), "\"\(md5Hex(data))\"")
            let get = try await client.expect(200, "GET", "/enc/s3")
            XCTAssertEqual(get.body, data)
            XCTAssertEqual(get.header("x-amz-server-side-encryption"), "AES256")
            let range = try await client.expect(206, "GET", "/enc/s3", headers: [("Range", "bytes=65530-131080")])
            XCTAssertEqual(range.body, Array(data[65530...131080]))

            // SSE-KMS by alias: the key's ARN, the bucket key, the context on PUT only.
            let context = Data(#"{"team":"a"}"#.utf8).base64EncodedString()
            let kms = try await client.put("enc", "kms", data, headers: [
                ("x-amz-server-side-encryption", "aws:kms"), ("x-amz-server-side-encryption-aws-kms-key-id", "alias/app"),
                ("x-amz-server-side-encryption-context", context), ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            ])
            let arn = try XCTUnwrap(kms.header("x-amz-server-side-encryption-aws-kms-key-id"))
            XCTAssertTrue(arn.hasPrefix("arn:aws:kms:us-east-1:") && arn.hasSuffix(":key/\(Self.kmsKey)"), arn)
            XCTAssertEqual(kms.header("x-amz-server-side-encryption-bucket-key-enabled"), "true")
            XCTAssertEqual(kms.header("x-amz-server-side-encryption-context"), context)
            XCTAssertNotEqual(kms.header("ETag"), "\"\(md5Hex(data))\"", "an SSE-KMS ETag is not the MD5")
            let head = try await client.expect(200, "HEAD", "/enc/kms")
            XCTAssertEqual(head.header("x-amz-server-side-encryption"), "aws:kms")
            XCTAssertEqual(head.header("x-amz-server-side-encryption-aws-kms-key-id"), arn)
            XCTAssertNil(head.header("x-amz-server-side-encryption-context"), "GET and HEAD never return the context")
            XCTAssertEqual(head.header("ETag"), kms.header("ETag"))
            let r1 = try await client.expect(200, "GET", "/enc/kms")
            XCTAssertEqual(r1.body, data)
            let unknown = try await client.expect(400, "PUT", "/enc/x", headers: [
                ("x-amz-server-side-encryption", "aws:kms"), ("x-amz-server-side-encryption-aws-kms-key-id", "no-such-key")], body: data)
            XCTAssertEqual(Self.code(unknown), "KMS.NotFoundException")

            // SSE-C: the algorithm and key MD5 echoed; the key needed for GET and HEAD.
            let customer = Customer()
            let ssec = try await client.put("enc", "c", data, headers: customer.headers)
            XCTAssertEqual(ssec.header("x-amz-server-side-encryption-customer-algorithm"), "AES256")
            XCTAssertEqual(ssec.header("x-amz-server-side-encryption-customer-key-MD5"), customer.md5)
            XCTAssertNil(ssec.header("x-amz-server-side-encryption"))
            let opened = try await client.expect(200, "GET", "/enc/c", headers: customer.headers)
            XCTAssertEqual(opened.body, data)
            XCTAssertEqual(opened.header("x-amz-server-side-encryption-customer-key-MD5"), customer.md5)
            try await client.expect(200, "HEAD", "/enc/c", headers: customer.headers)
            let noKey = try await client.expect(400, "GET", "/enc/c")
            XCTAssertEqual(Self.code(noKey), "InvalidRequest")
            let wrongKey = try await client.expect(403, "GET", "/enc/c", headers: Customer().headers)
            XCTAssertEqual(Self.code(wrongKey), "AccessDenied")
            XCTAssertNil(wrongKey.body.firstRange(of: Array(data.prefix(64))), "no plaintext in the refusal")
            try await client.expect(403, "HEAD", "/enc/c", headers: Customer().headers)
            try await client.expect(400, "HEAD", "/enc/c")
            // Customer headers on an object that is not SSE-C; an SSE header on GET.
            let notApplicable = try await client.expect(400, "GET", "/enc/s3", headers: customer.headers)
            XCTAssertEqual(try notApplicable.xml().text("Message"), "The encryption parameters are not applicable to this object.")
            let sseOnGet = try await client.expect(400, "GET", "/enc/s3", headers: [("x-amz-server-side-encryption", "AES256")])
            XCTAssertEqual(Self.code(sseOnGet), "InvalidArgument")

            // A plain object shows no encryption.
            let plain = try await client.put("enc", "plain", Array("MARKER-PLAIN".utf8))
            XCTAssertNil(plain.header("x-amz-server-side-encryption"))

            // At rest: the plain marker is in a segment, the sealed ones are not.
            let segments = server.directory + "/segments"
            var stored: [UInt8] = []
            for name in try FileManager.default.contentsOfDirectory(atPath: segments) {
                stored += Array(try Data(contentsOf: URL(fileURLWithPath: segments + "/" + name)))
            }
            XCTAssertNotNil(stored.firstRange(of: Array("MARKER-PLAIN".utf8)))
            XCTAssertNil(stored.firstRange(of: Array("MARKER-SSE-S3".utf8)))
        }
    }

    func testCopiesMoveBetweenKindsWithTheSourceKey() async throws {
        try await withServer { _, client in
            let data = pattern(9, 150_000)
            let source = Customer(), target = Customer()
            try await client.put("enc", "src", data, headers: source.headers)
            // Without the source's key: as a GET without it.
            let refused = try await client.expect(400, "PUT", "/enc/dst", headers: [("x-amz-copy-source", "/enc/src")])
            XCTAssertEqual(Self.code(refused), "InvalidRequest")
            try await client.expect(403, "PUT", "/enc/dst", headers: [("x-amz-copy-source", "/enc/src")] + Customer().copySourceHeaders)
            // SSE-C → SSE-S3, → another customer key, → plain.
            let toS3 = try await client.expect(200, "PUT", "/enc/s3", headers: [("x-amz-copy-source", "/enc/src"),
                                                                                 ("x-amz-server-side-encryption", "AES256")] + source.copySourceHeaders)
            XCTAssertEqual(toS3.header("x-amz-server-side-encryption"), "AES256")
            XCTAssertEqual(try toS3.xml().text("ETag"), "\"\(md5Hex(data))\"")
            let r2 = try await client.expect(200, "GET", "/enc/s3")
            XCTAssertEqual(r2.body, data)
            try await client.expect(200, "PUT", "/enc/c2", headers: [("x-amz-copy-source", "/enc/src")] + source.copySourceHeaders + target.headers)
            let r3 = try await client.expect(200, "GET", "/enc/c2", headers: target.headers)
            XCTAssertEqual(r3.body, data)
            try await client.expect(403, "GET", "/enc/c2", headers: source.headers)
            try await client.expect(200, "PUT", "/enc/plain", headers: [("x-amz-copy-source", "/enc/src")] + source.copySourceHeaders)
            let r4 = try await client.expect(200, "GET", "/enc/plain")
            XCTAssertEqual(r4.body, data)
            // Copying onto itself with a new encryption is a change (S3 allows it).
            try await client.expect(200, "PUT", "/enc/s3", headers: [("x-amz-copy-source", "/enc/s3"),
                                                                      ("x-amz-server-side-encryption", "aws:kms")])
            let r5 = try await client.expect(200, "HEAD", "/enc/s3")
            XCTAssertEqual(r5.header("x-amz-server-side-encryption"), "aws:kms")
        }
    }

    func testEveryPartOfAnSSECUploadNeedsTheUploadsKey() async throws {
        var options = ObjectStore.Options()
        options.minPartSize = 1
        try await withServer(options: options) { _, client in
            let customer = Customer()
            let created = try await client.expect(200, "POST", "/enc/mp", query: [("uploads", nil)], headers: customer.headers)
            XCTAssertEqual(created.header("x-amz-server-side-encryption-customer-key-MD5"), customer.md5)
            let uploadId = try XCTUnwrap(try created.xml().text("UploadId"))
            let query: (Int) -> [(name: String, value: String?)] = { [("partNumber", "\($0)"), ("uploadId", uploadId)] }
            let missing = try await client.expect(400, "PUT", "/enc/mp", query: query(1), body: pattern(1, 10))
            XCTAssertEqual(try missing.xml().text("Message"),
                           "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.")
            let other = try await client.expect(400, "PUT", "/enc/mp", query: query(1), headers: Customer().headers, body: pattern(1, 10))
            XCTAssertEqual(try other.xml().text("Message"), "The provided encryption parameters did not match the ones used originally.")
            let one = pattern(1, 100_000), two = pattern(2, 70_000)
            let r6 = try await client.expect(200, "PUT", "/enc/mp", query: query(1), headers: customer.headers, body: one)
            let e1 = try XCTUnwrap(r6.header("ETag"))
            // UploadPartCopy from an SSE-KMS source into the SSE-C upload.
            try await client.put("enc", "kms", two, headers: [("x-amz-server-side-encryption", "aws:kms")])
            let copied = try await client.expect(200, "PUT", "/enc/mp", query: query(2),
                                                 headers: [("x-amz-copy-source", "/enc/kms")] + customer.headers)
            let e2 = try XCTUnwrap(try copied.xml().text("ETag"))
            let document = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\(e1)</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\(e2)</ETag></Part></CompleteMultipartUpload>"
            let completed = try await client.expect(200, "POST", "/enc/mp", query: [("uploadId", uploadId)], body: bytes(document))
            XCTAssertNil(completed.header("x-amz-server-side-encryption-customer-algorithm"), "S3 names no SSE-C on Complete")
            let r7 = try await client.expect(200, "GET", "/enc/mp", headers: customer.headers)
            XCTAssertEqual(r7.body, one + two)
            let part2 = try await client.expect(206, "GET", "/enc/mp", query: [("partNumber", "2")], headers: customer.headers)
            XCTAssertEqual(part2.body, two)
            let across = try await client.expect(206, "GET", "/enc/mp", headers: customer.headers + [("Range", "bytes=99990-100009")])
            XCTAssertEqual(across.body, Array((one + two)[99990...100009]))
            try await client.expect(400, "GET", "/enc/mp")
        }
    }

    func testTheBucketDefaultAppliesToWritesWithoutHeaders() async throws {
        var options = ObjectStore.Options()
        options.minPartSize = 1
        try await withServer(options: options) { _, client in
            let missing = try await client.expect(404, "GET", "/enc", query: [("encryption", nil)])
            XCTAssertEqual(Self.code(missing), "ServerSideEncryptionConfigurationNotFoundError")
            let document = bytes("<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>\(Self.kmsKey)</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>")
            try await client.expect(200, "PUT", "/enc", query: [("encryption", nil)], body: document)
            let stored = try await client.expect(200, "GET", "/enc", query: [("encryption", nil)])
            XCTAssertEqual(try stored.xml().text("Rule", "ApplyServerSideEncryptionByDefault", "KMSMasterKeyID"), Self.kmsKey)
            XCTAssertEqual(try stored.xml().text("Rule", "BucketKeyEnabled"), "true")
            let put = try await client.put("enc", "a", pattern(1, 1000))
            XCTAssertEqual(put.header("x-amz-server-side-encryption"), "aws:kms")
            XCTAssertTrue(put.header("x-amz-server-side-encryption-aws-kms-key-id")?.hasSuffix(Self.kmsKey) == true)
            XCTAssertEqual(put.header("x-amz-server-side-encryption-bucket-key-enabled"), "true")
            // A header still wins; CopyObject and CreateMultipartUpload take the default too.
            let s3 = try await client.put("enc", "b", pattern(1, 1000), headers: [("x-amz-server-side-encryption", "AES256")])
            XCTAssertEqual(s3.header("x-amz-server-side-encryption"), "AES256")
            let copy = try await client.expect(200, "PUT", "/enc/c", headers: [("x-amz-copy-source", "/enc/b")])
            XCTAssertEqual(copy.header("x-amz-server-side-encryption"), "aws:kms")
            let upload = try await client.expect(200, "POST", "/enc/m", query: [("uploads", nil)])
            XCTAssertEqual(upload.header("x-amz-server-side-encryption"), "aws:kms")
            try await client.expect(204, "DELETE", "/enc", query: [("encryption", nil)])
            try await client.expect(404, "GET", "/enc", query: [("encryption", nil)])
            let r8 = try await client.put("enc", "d", pattern(1, 10))
            XCTAssertNil(r8.header("x-amz-server-side-encryption"))
        }
    }

    func testPolicyConditionsSeeTheEncryptionARequestAsksFor() async throws {
        try await withServer { server, client in
            let policy = """
            {"Version":"2012-10-17","Statement":[
             {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::enc/s3/*",
              "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
             {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::enc/kms/*",
              "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:\(Principal.root(accessKeyId: S3TestServer.accessKey).accountId):key/\(Self.kmsKey)"}}},
             {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::enc/c/*",
              "Condition":{"Null":{"s3:x-amz-server-side-encryption-customer-algorithm":"true"}}}]}
            """
            try await client.expect(204, "PUT", "/enc", query: [("policy", nil)], body: bytes(policy))
            try await client.expect(403, "PUT", "/enc/s3/a", body: pattern(1, 10))
            try await client.expect(200, "PUT", "/enc/s3/a", headers: [("x-amz-server-side-encryption", "AES256")], body: pattern(1, 10))
            try await client.expect(403, "PUT", "/enc/kms/a", headers: [("x-amz-server-side-encryption", "aws:kms")], body: pattern(1, 10))
            // The alias names the listed key: the condition sees its ARN.
            try await client.expect(200, "PUT", "/enc/kms/a", headers: [("x-amz-server-side-encryption", "aws:kms"),
                                                                         ("x-amz-server-side-encryption-aws-kms-key-id", "alias/app")],
                                    body: pattern(1, 10))
            try await client.expect(403, "PUT", "/enc/c/a", body: pattern(1, 10))
            try await client.expect(200, "PUT", "/enc/c/a", headers: Customer().headers, body: pattern(1, 10))
            _ = server
        }
    }
}
