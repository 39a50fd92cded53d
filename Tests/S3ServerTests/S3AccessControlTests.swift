import Foundation
import XCTest
@testable import S3Server

/// Users, ACLs, bucket policies, Block Public Access and Object Ownership, enforced on
/// real requests by two users (Alice, Bob) and anonymous callers.
final class S3AccessControlTests: XCTestCase {
    static let usersFile = "alice-key alice-secret alice-id Alice\nbob-key bob-secret bob-id Bob\n"

    func withUsers(_ body: (S3TestServer, _ alice: S3TestClient, _ bob: S3TestClient, _ anonymous: S3TestClient) async throws -> Void) async throws {
        try await S3TestServer.with(configure: {
            $0.users = try! UserDirectory(root: $0.credentials, usersFile: Self.usersFile)
        }) { server in
            try await body(server, S3TestClient(server, credentials: ("alice-key", "alice-secret")),
                           S3TestClient(server, credentials: ("bob-key", "bob-secret")), S3TestClient(server, credentials: nil))
        }
    }

    static let aclQuery: [(name: String, value: String?)] = [("acl", nil)]
    static let policyQuery: [(name: String, value: String?)] = [("policy", nil)]

    /// S3: private by default. Anonymous and other users get 403; a missing key is 403
    /// too for callers who may not list the bucket, 404 for those who may.
    func testPrivateByDefault() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/a-private")
            try await alice.expect(200, "PUT", "/a-private/k", body: bytes("secret"))
            for caller in [bob, anonymous] {
                await assertEqual(try await caller.expect(403, "GET", "/a-private/k").errorCode, "AccessDenied")
                try await caller.expect(403, "GET", "/a-private")
                try await caller.expect(403, "PUT", "/a-private/new", body: bytes("x"))
                try await caller.expect(403, "DELETE", "/a-private/k")
                try await caller.expect(403, "GET", "/a-private/missing")
                try await caller.expect(403, "GET", "/a-private", query: Self.aclQuery)
            }
            try await alice.expect(404, "GET", "/a-private/missing")
            try await alice.expect(200, "GET", "/a-private/k")
            // Anonymous callers cannot list buckets or create them; a missing bucket is
            // NoSuchBucket for everyone.
            try await anonymous.expect(403, "GET", "/")
            try await anonymous.expect(403, "PUT", "/anon-bucket")
            await assertEqual(try await anonymous.expect(404, "GET", "/no-such-bucket/k").errorCode, "NoSuchBucket")
        }
    }

    /// ListBuckets shows the caller's own buckets with the caller as Owner; a name taken
    /// by another user is BucketAlreadyExists.
    func testEachUserOwnsTheirBuckets() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/alice-bucket")
            try await bob.expect(200, "PUT", "/bob-bucket")
            let list = try await bob.expect(200, "GET", "/").xml()
            XCTAssertEqual(list.texts("Buckets", "Bucket", "Name"), ["bob-bucket"])
            XCTAssertEqual(list.text("Owner", "ID"), "bob-id")
            XCTAssertEqual(list.text("Owner", "DisplayName"), "Bob")
            await assertEqual(try await bob.expect(409, "PUT", "/alice-bucket").errorCode, "BucketAlreadyExists")
            // Her own, again: 200 under S3's legacy us-east-1 rule (the server's region).
            try await alice.expect(200, "PUT", "/alice-bucket")
        }
    }

    /// Canned ACLs on objects and buckets: public-read lets anonymous callers read;
    /// public-read-write lets them write; GetObjectAcl shows the grants.
    func testCannedACLsAreEnforced() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/shared", headers: [("x-amz-acl", "public-read")])
            try await alice.expect(200, "PUT", "/shared/open", headers: [("x-amz-acl", "public-read")], body: bytes("hello"))
            try await alice.expect(200, "PUT", "/shared/closed", body: bytes("no"))
            await assertEqual(try await anonymous.expect(200, "GET", "/shared/open").body, bytes("hello"))
            try await anonymous.expect(403, "GET", "/shared/closed")
            // The bucket is public-read: listing works, and a missing key is 404.
            try await anonymous.expect(200, "GET", "/shared")
            try await anonymous.expect(404, "GET", "/shared/missing")
            try await bob.expect(403, "PUT", "/shared/by-bob", body: bytes("x"))

            let acl = try await alice.expect(200, "GET", "/shared/open", query: Self.aclQuery).xml()
            XCTAssertEqual(acl.text("Owner", "ID"), "alice-id")
            XCTAssertEqual(acl.texts("AccessControlList", "Grant", "Permission"), ["FULL_CONTROL", "READ"])
            XCTAssertEqual(acl.texts("AccessControlList", "Grant", "Grantee", "URI"), ["http://acs.amazonaws.com/groups/global/AllUsers"])

            // PutObjectAcl back to private closes it.
            try await alice.expect(200, "PUT", "/shared/open", query: Self.aclQuery, headers: [("x-amz-acl", "private")])
            try await anonymous.expect(403, "GET", "/shared/open")
            await assertEqual(try await alice.expect(200, "GET", "/shared/open").body, bytes("hello"))

            try await alice.expect(200, "PUT", "/shared", query: Self.aclQuery, headers: [("x-amz-acl", "public-read-write")])
            try await anonymous.expect(200, "PUT", "/shared/anon", body: bytes("from nobody"))
        }
    }

    /// Grants to another user: WRITE on the bucket lets Bob upload; his object is his
    /// (ObjectWriter): Alice cannot read it unless he grants bucket-owner-full-control,
    /// but she can delete it (a bucket WRITE matter).
    func testGrantsBetweenUsersAndObjectWriterOwnership() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/team")
            try await alice.expect(200, "PUT", "/team", query: Self.aclQuery,
                                   headers: [("x-amz-grant-write", #"id="bob-id""#), ("x-amz-grant-full-control", #"id="alice-id""#)])
            try await bob.expect(200, "PUT", "/team/bobs", body: bytes("mine"))
            try await bob.expect(200, "PUT", "/team/shared", headers: [("x-amz-acl", "bucket-owner-full-control")], body: bytes("ours"))
            try await bob.expect(403, "GET", "/team", message: "WRITE does not give READ")
            try await alice.expect(403, "GET", "/team/bobs")
            try await alice.expect(200, "GET", "/team/shared")
            try await bob.expect(200, "GET", "/team/bobs")
            let owner = try await bob.expect(200, "GET", "/team/bobs", query: Self.aclQuery).xml()
            XCTAssertEqual(owner.text("Owner", "ID"), "bob-id")
            let listing = try await alice.expect(200, "GET", "/team", query: [("list-type", "2"), ("fetch-owner", "true")]).xml()
            XCTAssertEqual(listing.texts("Contents", "Owner", "DisplayName"), ["Bob", "Bob"])
            try await alice.expect(204, "DELETE", "/team/bobs")
        }
    }

    /// A bucket policy grants anonymous reads of one prefix; an explicit Deny beats an
    /// ACL grant; the owner can always remove the policy.
    func testBucketPolicyAllowAndDeny() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/pol")
            try await alice.expect(200, "PUT", "/pol/public/a", body: bytes("A"))
            try await alice.expect(200, "PUT", "/pol/private/b", body: bytes("B"))
            try await alice.expect(200, "PUT", "/pol", query: Self.aclQuery, headers: [("x-amz-grant-write", #"id="bob-id""#),
                                                                                      ("x-amz-grant-full-control", #"id="alice-id""#)])
            let policy = """
                {"Version":"2012-10-17","Statement":[
                 {"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/public/*"},
                 {"Sid":"NoBobDeletes","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/Bob"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::pol/*"},
                 {"Sid":"NobodyDeletesBucket","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::pol"}]}
                """
            try await alice.expect(204, "PUT", "/pol", query: Self.policyQuery, body: bytes(policy))
            await assertEqual(try await alice.expect(200, "GET", "/pol", query: Self.policyQuery).body, bytes(policy))
            await assertEqual(try await anonymous.expect(200, "GET", "/pol/public/a").body, bytes("A"))
            try await anonymous.expect(403, "GET", "/pol/private/b")
            try await bob.expect(200, "PUT", "/pol/public/c", body: bytes("C"))
            try await bob.expect(403, "DELETE", "/pol/public/c")
            try await alice.expect(403, "DELETE", "/pol", message: "explicit deny applies to the owner too")
            let status = try await alice.expect(200, "GET", "/pol", query: [("policyStatus", nil)]).xml()
            XCTAssertEqual(status.text("IsPublic"), "true")
            // The owner can always manage the policy.
            try await alice.expect(204, "DELETE", "/pol", query: Self.policyQuery)
            try await anonymous.expect(403, "GET", "/pol/public/a")
            await assertEqual(try await alice.expect(404, "GET", "/pol", query: Self.policyQuery).errorCode, "NoSuchBucketPolicy")
            // Only the owner manages it.
            try await bob.expect(403, "PUT", "/pol", query: Self.policyQuery, body: bytes(policy))
            let malformed = try await alice.expect(400, "PUT", "/pol", query: Self.policyQuery, body: bytes("{not json"))
            XCTAssertEqual(malformed.errorCode, "MalformedPolicy")
        }
    }

    /// A GET or HEAD of a missing key is 404 or 403 as S3 decides it: by ListBucket with
    /// `s3:prefix` set to the key. A policy letting Bob list only `public/` makes a
    /// missing key there 404 and one elsewhere 403.
    func testMissingKeyIs404OnlyWhereTheCallerMayListThatPrefix() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/probe")
            let policy = """
                {"Version":"2012-10-17","Statement":[
                 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/Bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::probe/*"},
                 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/Bob"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::probe",
                  "Condition":{"StringLike":{"s3:prefix":["public/*"]}}}]}
                """
            try await alice.expect(204, "PUT", "/probe", query: Self.policyQuery, body: bytes(policy))
            await assertEqual(try await bob.expect(404, "GET", "/probe/public/missing").errorCode, "NoSuchKey")
            try await bob.expect(404, "HEAD", "/probe/public/missing")
            await assertEqual(try await bob.expect(403, "GET", "/probe/secret/missing").errorCode, "AccessDenied")
            try await bob.expect(403, "HEAD", "/probe/secret/missing")
        }
    }

    /// DeleteObjects decides each key on its own: a denied key is an Error entry.
    func testDeleteObjectsAuthorizesEachKey() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/multi")
            try await alice.expect(200, "PUT", "/multi", query: Self.aclQuery, headers: [("x-amz-grant-write", #"id="bob-id""#),
                                                                                        ("x-amz-grant-full-control", #"id="alice-id""#)])
            try await alice.expect(200, "PUT", "/multi/keep/x", body: bytes("x"))
            try await alice.expect(200, "PUT", "/multi/tmp/y", body: bytes("y"))
            try await alice.expect(204, "PUT", "/multi", query: Self.policyQuery, body: bytes("""
                {"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::multi/keep/*"}]}
                """))
            let document = bytes("<Delete><Object><Key>keep/x</Key></Object><Object><Key>tmp/y</Key></Object></Delete>")
            let result = try await bob.expect(200, "POST", "/multi", query: [("delete", nil)],
                                              headers: [("Content-MD5", contentMD5(document))], body: document).xml()
            XCTAssertEqual(result.texts("Deleted", "Key"), ["tmp/y"])
            XCTAssertEqual(result.texts("Error", "Key"), ["keep/x"])
            XCTAssertEqual(result.texts("Error", "Code"), ["AccessDenied"])
        }
    }

    /// CopyObject needs read access to its source as well as write access to its target.
    func testCopyNeedsReadOnSource() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/src")
            try await alice.expect(200, "PUT", "/src/k", body: bytes("v"))
            try await bob.expect(200, "PUT", "/dst")
            try await bob.expect(403, "PUT", "/dst/copy", headers: [("x-amz-copy-source", "/src/k")])
            try await alice.expect(200, "PUT", "/src/k", query: Self.aclQuery, headers: [("x-amz-grant-read", #"id="bob-id""#)])
            try await bob.expect(200, "PUT", "/dst/copy", headers: [("x-amz-copy-source", "/src/k")])
            await assertEqual(try await bob.expect(200, "GET", "/dst/copy").body, bytes("v"))
        }
    }

    /// BucketOwnerEnforced disables ACLs: ACL headers other than
    /// bucket-owner-full-control are AccessControlListNotSupported, and every object is
    /// the bucket owner's.
    func testBucketOwnerEnforcedDisablesACLs() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/enforced", headers: [("x-amz-object-ownership", "BucketOwnerEnforced")])
            let controls = try await alice.expect(200, "GET", "/enforced", query: [("ownershipControls", nil)]).xml()
            XCTAssertEqual(controls.text("Rule", "ObjectOwnership"), "BucketOwnerEnforced")
            let refused = try await alice.expect(400, "PUT", "/enforced/k", headers: [("x-amz-acl", "public-read")], body: bytes("x"))
            XCTAssertEqual(refused.errorCode, "AccessControlListNotSupported")
            try await alice.expect(400, "PUT", "/enforced", query: Self.aclQuery, headers: [("x-amz-acl", "public-read")])
            try await alice.expect(204, "PUT", "/enforced", query: Self.policyQuery, body: bytes("""
                {"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"bob-id"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::enforced/*"}]}
                """))
            try await bob.expect(200, "PUT", "/enforced/from-bob", headers: [("x-amz-acl", "bucket-owner-full-control")], body: bytes("b"))
            let acl = try await alice.expect(200, "GET", "/enforced/from-bob", query: Self.aclQuery).xml()
            XCTAssertEqual(acl.text("Owner", "ID"), "alice-id")
            try await bob.expect(403, "GET", "/enforced/from-bob")
            // Back to ObjectWriter: ACLs work again. Deleting the controls: 404 on GET.
            try await alice.expect(204, "DELETE", "/enforced", query: [("ownershipControls", nil)])
            await assertEqual(try await alice.expect(404, "GET", "/enforced", query: [("ownershipControls", nil)]).errorCode,
                           "OwnershipControlsNotFoundError")
            try await alice.expect(200, "PUT", "/enforced/k", headers: [("x-amz-acl", "public-read")], body: bytes("x"))
            // A bucket whose ACL grants to others cannot turn ACLs off.
            try await alice.expect(200, "PUT", "/enforced", query: Self.aclQuery, headers: [("x-amz-acl", "public-read")])
            let document = bytes("<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>")
            await assertEqual(try await alice.expect(400, "PUT", "/enforced", query: [("ownershipControls", nil)], body: document).errorCode,
                           "InvalidBucketAclWithObjectOwnership")
        }
    }

    /// Block Public Access: public ACLs and policies refused, public grants ignored.
    func testPublicAccessBlock() async throws {
        try await withUsers { _, alice, _, anonymous in
            try await alice.expect(200, "PUT", "/guarded")
            try await alice.expect(200, "PUT", "/guarded/open", headers: [("x-amz-acl", "public-read")], body: bytes("o"))
            try await anonymous.expect(200, "GET", "/guarded/open")
            await assertEqual(try await alice.expect(404, "GET", "/guarded", query: [("publicAccessBlock", nil)]).errorCode,
                           "NoSuchPublicAccessBlockConfiguration")
            let block = bytes("""
                <PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>\
                <BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>
                """)
            try await alice.expect(200, "PUT", "/guarded", query: [("publicAccessBlock", nil)], body: block)
            let got = try await alice.expect(200, "GET", "/guarded", query: [("publicAccessBlock", nil)]).xml()
            XCTAssertEqual(got.text("IgnorePublicAcls"), "true")
            XCTAssertEqual(got.text("RestrictPublicBuckets"), "false")
            try await anonymous.expect(403, "GET", "/guarded/open")
            try await alice.expect(403, "PUT", "/guarded/more", headers: [("x-amz-acl", "public-read")], body: bytes("m"))
            try await alice.expect(403, "PUT", "/guarded", query: Self.policyQuery, body: bytes("""
                {"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::guarded/*"}]}
                """))
            try await alice.expect(204, "DELETE", "/guarded", query: [("publicAccessBlock", nil)])
            try await anonymous.expect(200, "GET", "/guarded/open")
        }
    }

    /// Bad ACL requests change nothing: MalformedACLError, unknown canned ACL,
    /// UnresolvableGrantByEmailAddress, unknown user ids.
    func testBadACLRequests() async throws {
        try await withUsers { _, alice, _, anonymous in
            try await alice.expect(200, "PUT", "/acls")
            try await alice.expect(200, "PUT", "/acls/k", body: bytes("k"))
            let cases: [(String, [(name: String, value: String)], [UInt8], String)] = [
                ("malformed body", [], bytes("<AccessControlPolicy>"), "MalformedXML"),
                ("no owner", [], bytes("<AccessControlPolicy><AccessControlList/></AccessControlPolicy>"), "MalformedACLError"),
                ("unknown canned", [("x-amz-acl", "everyone-please")], [], "InvalidArgument"),
                ("email grant", [("x-amz-grant-read", #"emailAddress="x@example.com""#)], [], "UnresolvableGrantByEmailAddress"),
                ("unknown id", [("x-amz-grant-read", #"id="nobody""#)], [], "InvalidArgument"),
                ("nothing", [], [], "MalformedACLError"),
            ]
            for (name, headers, body, code) in cases {
                let response = try await alice.call("PUT", "/acls/k", query: Self.aclQuery, headers: headers, body: body)
                XCTAssertEqual(response.errorCode, code, name)
            }
            try await anonymous.expect(403, "GET", "/acls/k")
            let acl = try await alice.expect(200, "GET", "/acls/k", query: Self.aclQuery).xml()
            XCTAssertEqual(acl.texts("AccessControlList", "Grant", "Permission"), ["FULL_CONTROL"])
        }
    }

    /// A full AccessControlPolicy document round-trips through PutObjectAcl/GetObjectAcl.
    func testAccessControlPolicyDocument() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/doc")
            try await alice.expect(200, "PUT", "/doc/k", body: bytes("k"))
            let document = bytes("""
                <AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>alice-id</ID></Owner><AccessControlList>\
                <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>alice-id</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>\
                <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>bob-id</ID></Grantee><Permission>READ</Permission></Grant>\
                </AccessControlList></AccessControlPolicy>
                """)
            try await bob.expect(403, "GET", "/doc/k")
            try await alice.expect(200, "PUT", "/doc/k", query: Self.aclQuery, body: document)
            try await bob.expect(200, "GET", "/doc/k")
            try await bob.expect(403, "GET", "/doc/k", query: Self.aclQuery, message: "READ does not give READ_ACP")
            let acl = try await alice.expect(200, "GET", "/doc/k", query: Self.aclQuery).xml()
            XCTAssertEqual(acl.texts("AccessControlList", "Grant", "Grantee", "DisplayName"), ["Alice", "Bob"])
        }
    }

    /// Review findings, as AWS documents them: a bucket policy's Allow does not reach
    /// objects the bucket owner does not own; the policy, Block Public Access and Object
    /// Ownership stay with the owner (405 to others the policy lets in).
    func testPolicyAllowStopsAtOwnershipBoundaries() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/wide")
            try await alice.expect(200, "PUT", "/wide", query: Self.aclQuery, headers: [("x-amz-grant-write", #"id="bob-id""#),
                                                                                       ("x-amz-grant-full-control", #"id="alice-id""#)])
            try await bob.expect(200, "PUT", "/wide/bobs-private", body: bytes("b"))
            try await alice.expect(200, "PUT", "/wide/alices", body: bytes("a"))
            try await alice.expect(204, "PUT", "/wide", query: Self.policyQuery, body: bytes("""
                {"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::wide","arn:aws:s3:::wide/*"]}]}
                """))
            try await anonymous.expect(200, "GET", "/wide/alices")
            try await anonymous.expect(403, "GET", "/wide/bobs-private", message: "Bob's object is not Alice's to share")
            let method = try await bob.expect(405, "GET", "/wide", query: Self.policyQuery)
            XCTAssertEqual(method.errorCode, "MethodNotAllowed")
            try await bob.expect(405, "DELETE", "/wide", query: Self.policyQuery)
            try await anonymous.expect(403, "PUT", "/wide", query: [("publicAccessBlock", nil)],
                                       body: bytes("<PublicAccessBlockConfiguration/>"))
            try await bob.expect(403, "DELETE", "/wide", query: [("ownershipControls", nil)])
        }
    }

    /// AbortMultipartUpload and ListParts belong to the bucket owner and the upload's
    /// initiator, not to every holder of a bucket ACL grant.
    func testUploadPartiesOnly() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/uploads", headers: [("x-amz-acl", "public-read-write")])
            let created = try await bob.expect(200, "POST", "/uploads/big", query: [("uploads", nil)]).xml()
            let uploadId = try XCTUnwrap(created.text("UploadId"))
            let query: [(name: String, value: String?)] = [("uploadId", uploadId)]
            try await anonymous.expect(403, "GET", "/uploads/big", query: query)
            try await anonymous.expect(403, "DELETE", "/uploads/big", query: query)
            try await bob.expect(200, "GET", "/uploads/big", query: query)
            let listed = try await alice.expect(200, "GET", "/uploads/big", query: query).xml()
            XCTAssertEqual(listed.text("Initiator", "DisplayName"), "Bob")
            try await alice.expect(204, "DELETE", "/uploads/big", query: query)
        }
    }

    /// ListParts and ListMultipartUploads: `Owner` is the owner the object will have, the
    /// bucket owner under BucketOwnerPreferred with bucket-owner-full-control (and under
    /// BucketOwnerEnforced), the uploader otherwise; `Initiator` stays the uploader, as S3.
    func testListPartsOwnerIsTheOwnerTheObjectWillHave() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/preferred", headers: [("x-amz-acl", "public-read-write"),
                                                                     ("x-amz-object-ownership", "BucketOwnerPreferred")])
            let handed = try await bob.expect(200, "POST", "/preferred/handed", query: [("uploads", nil)],
                                              headers: [("x-amz-acl", "bucket-owner-full-control")]).xml()
            let kept = try await bob.expect(200, "POST", "/preferred/kept", query: [("uploads", nil)]).xml()
            for (key, created, owner) in [("handed", handed, "alice-id"), ("kept", kept, "bob-id")] {
                let uploadId = try XCTUnwrap(created.text("UploadId"))
                let parts = try await bob.expect(200, "GET", "/preferred/\(key)", query: [("uploadId", uploadId)]).xml()
                XCTAssertEqual(parts.text("Initiator", "ID"), "bob-id", key)
                XCTAssertEqual(parts.text("Owner", "ID"), owner, key)
            }
            let uploads = try await alice.expect(200, "GET", "/preferred", query: [("uploads", nil)]).xml()
            XCTAssertEqual(uploads.texts("Upload", "Key"), ["handed", "kept"])
            XCTAssertEqual(uploads.texts("Upload", "Initiator", "ID"), ["bob-id", "bob-id"])
            XCTAssertEqual(uploads.texts("Upload", "Owner", "ID"), ["alice-id", "bob-id"])
        }
    }

    /// Anonymous GETs cannot use response-* overrides (S3: InvalidRequest); a copy's
    /// missing source is 403 to a caller who may not list the source bucket.
    func testAnonymousOverridesAndCopySourceProbing() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/open", headers: [("x-amz-acl", "public-read")])
            try await alice.expect(200, "PUT", "/open/k", headers: [("x-amz-acl", "public-read")], body: bytes("k"))
            let overridden = try await anonymous.expect(400, "GET", "/open/k", query: [("response-content-type", "text/html")])
            XCTAssertEqual(overridden.errorCode, "InvalidRequest")
            try await alice.expect(200, "GET", "/open/k", query: [("response-content-type", "text/html")])
            try await alice.expect(200, "PUT", "/closed")
            try await bob.expect(200, "PUT", "/mine")
            let probe = try await bob.expect(403, "PUT", "/mine/copy", headers: [("x-amz-copy-source", "/closed/missing")])
            XCTAssertEqual(probe.errorCode, "AccessDenied")
            let visible = try await bob.expect(404, "PUT", "/mine/copy", headers: [("x-amz-copy-source", "/open/missing")])
            XCTAssertEqual(visible.errorCode, "NoSuchKey")
        }
    }

    /// ACLs belong to versions: PutObjectAcl with versionId changes that version only,
    /// and keeps its id and bytes (S3 makes no new version for an ACL change).
    func testACLsPerVersion() async throws {
        try await withUsers { _, alice, _, anonymous in
            try await alice.expect(200, "PUT", "/versioned")
            try await alice.expect(200, "PUT", "/versioned", query: [("versioning", nil)],
                                   body: bytes("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"))
            let first = try await alice.expect(200, "PUT", "/versioned/k", body: bytes("one")).header("x-amz-version-id")
            let second = try await alice.expect(200, "PUT", "/versioned/k", body: bytes("two")).header("x-amz-version-id")
            let old = try XCTUnwrap(first), new = try XCTUnwrap(second)
            let changed = try await alice.expect(200, "PUT", "/versioned/k", query: [("acl", nil), ("versionId", old)],
                                                 headers: [("x-amz-acl", "public-read")])
            XCTAssertEqual(changed.header("x-amz-version-id"), old)
            await assertEqual(try await anonymous.expect(200, "GET", "/versioned/k", query: [("versionId", old)]).body, bytes("one"))
            try await anonymous.expect(403, "GET", "/versioned/k")
            try await anonymous.expect(403, "GET", "/versioned/k", query: [("versionId", new)])
            let acl = try await alice.expect(200, "GET", "/versioned/k", query: [("acl", nil), ("versionId", old)]).xml()
            XCTAssertEqual(acl.texts("AccessControlList", "Grant", "Permission"), ["FULL_CONTROL", "READ"])
            let versions = try await alice.expect(200, "GET", "/versioned", query: [("versions", nil)]).xml()
            XCTAssertEqual(versions.texts("Version", "VersionId"), [new, old], "no new version for an ACL change")
            try await alice.expect(404, "GET", "/versioned/k", query: [("acl", nil), ("versionId", (old.hasPrefix("A") ? "B" : "A") + String(old.dropFirst()))])
        }
    }

    /// Tag conditions as S3 evaluates them: s3:ExistingObjectTag/KEY on the object's
    /// tags, s3:RequestObjectTag/KEY on the tags a PUT asks for.
    func testTagConditionsInPolicies() async throws {
        try await withUsers { _, alice, bob, anonymous in
            try await alice.expect(200, "PUT", "/tagged")
            try await alice.expect(204, "PUT", "/tagged", query: Self.policyQuery, body: bytes("""
                {"Statement":[
                 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::tagged/*",
                  "Condition":{"StringEquals":{"s3:ExistingObjectTag/visibility":"public"}}},
                 {"Effect":"Allow","Principal":{"CanonicalUser":"bob-id"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::tagged/*"},
                 {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::tagged/*",
                  "Condition":{"Null":{"s3:RequestObjectTag/team":"true"}}}]}
                """))
            try await alice.expect(200, "PUT", "/tagged/open", headers: [("x-amz-tagging", "visibility=public&team=a")], body: bytes("o"))
            try await alice.expect(200, "PUT", "/tagged/closed", headers: [("x-amz-tagging", "visibility=private&team=a")], body: bytes("c"))
            try await anonymous.expect(200, "GET", "/tagged/open")
            try await anonymous.expect(403, "GET", "/tagged/closed")
            try await bob.expect(403, "PUT", "/tagged/untagged", body: bytes("u"), message: "no team tag: denied")
            try await bob.expect(200, "PUT", "/tagged/bobs", headers: [("x-amz-tagging", "team=b")], body: bytes("b"))
            // Retagging changes what the policy allows.
            try await alice.expect(200, "PUT", "/tagged/closed", query: [("tagging", nil)],
                                   body: bytes("<Tagging><TagSet><Tag><Key>visibility</Key><Value>public</Value></Tag></TagSet></Tagging>"))
            try await anonymous.expect(200, "GET", "/tagged/closed")
        }
    }

    /// S3's ACL mapping: bucket WRITE lets others delete objects (making delete markers in
    /// a versioned bucket) but not delete versions for good; the bucket owner may.
    /// Restoring a version by copying it onto its own key makes it current again.
    func testVersionDeletesAndRestores() async throws {
        try await withUsers { _, alice, bob, _ in
            try await alice.expect(200, "PUT", "/history", headers: [("x-amz-grant-write", #"id="bob-id""#),
                                                                    ("x-amz-grant-full-control", #"id="alice-id""#)])
            try await alice.expect(200, "PUT", "/history", query: [("versioning", nil)],
                                   body: bytes("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"))
            let first = try await alice.expect(200, "PUT", "/history/k", body: bytes("one"))
            let v1 = try XCTUnwrap(first.header("x-amz-version-id"))
            try await alice.expect(200, "PUT", "/history/k", body: bytes("two"))
            try await bob.expect(403, "DELETE", "/history/k", query: [("versionId", v1)])
            try await bob.expect(204, "DELETE", "/history/k", message: "a delete marker is an ordinary delete")
            let restored = try await alice.expect(200, "PUT", "/history/k", headers: [("x-amz-copy-source", "/history/k?versionId=\(v1)")])
            XCTAssertNotEqual(restored.header("x-amz-version-id"), v1, "the restored copy is a new version")
            await assertEqual(try await alice.expect(200, "GET", "/history/k").body, bytes("one"))
            try await alice.expect(204, "DELETE", "/history/k", query: [("versionId", v1)])
            try await alice.expect(404, "GET", "/history/k", query: [("versionId", v1)])
        }
    }
}
