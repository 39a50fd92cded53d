import Foundation
import XCTest
@testable import S3Server

/// AWS accounts in bucket policies and `x-amz-expected-bucket-owner`: every user belongs
/// to an account, given in the users file or derived from the canonical id, and a policy
/// may name the account (`arn:aws:iam::ACCOUNT:root` or the bare 12-digit id) to mean
/// every user of it.
final class S3PolicyPrincipalTests: S3WireTestCase {
    /// Alice and Carol share account 111122223333 (the users file's optional column);
    /// Bob and Dave give none, so theirs are derived from their canonical ids.
    static let usersFile = """
        alice-key alice-secret alice-id 111122223333 Alice
        carol-key carol-secret carol-id 111122223333 Carol Jones
        bob-key bob-secret bob-id Bob
        dave-key dave-secret dave-id Dave

        """
    /// The accounts derived for `bob-id` and `dave-id` (README, "Users and access"):
    /// SHA-256 of `strata-account:` + canonical id, its first 8 bytes as a big-endian
    /// number, modulo 10^12, in 12 digits (Bob's shows the leading zero).
    static let bobAccount = "058657171763"
    static let daveAccount = "795299923808"
    static let sharedAccount = "111122223333"

    struct Callers {
        var alice, bob, carol, dave, anonymous: S3TestClient
    }

    func withUsers(_ body: (Callers) async throws -> Void) async throws {
        try await S3TestServer.with(configure: {
            $0.users = try! UserDirectory(root: $0.credentials, usersFile: Self.usersFile)
        }) { server in
            func client(_ name: String) -> S3TestClient { S3TestClient(server, credentials: ("\(name)-key", "\(name)-secret")) }
            try await body(Callers(alice: client("alice"), bob: client("bob"), carol: client("carol"), dave: client("dave"),
                                   anonymous: S3TestClient(server, credentials: nil)))
        }
    }

    static let policyQuery: [(name: String, value: String?)] = [("policy", nil)]

    /// The users file's optional account column (12 digits before the display name), and
    /// the account derived for users without one, root included: stable, 12 digits.
    func testUsersFileAccountIdsGivenOrDerived() throws {
        let users = try UserDirectory(root: ["root-key": "root-secret"], usersFile: Self.usersFile
                                      + "erin-key erin-secret erin-id 123456789012\nfrank-key frank-secret frank-id 12345678901 Frank\n")
        XCTAssertEqual(users.principal(accessKeyId: "alice-key")?.accountId, Self.sharedAccount)
        XCTAssertEqual(users.principal(accessKeyId: "carol-key")?.accountId, Self.sharedAccount)
        XCTAssertEqual(users.principal(accessKeyId: "carol-key")?.displayName, "Carol Jones")
        XCTAssertEqual(users.principal(accessKeyId: "bob-key")?.accountId, Self.bobAccount)
        XCTAssertEqual(users.principal(accessKeyId: "dave-key")?.accountId, Self.daveAccount)
        // Twelve digits with nothing after them are the display name; eleven are not an account.
        XCTAssertEqual(users.principal(accessKeyId: "erin-key")?.displayName, "123456789012")
        XCTAssertEqual(users.principal(accessKeyId: "erin-key")?.accountId, Principal.derivedAccountId(canonicalId: "erin-id"))
        XCTAssertEqual(users.principal(accessKeyId: "frank-key")?.displayName, "12345678901 Frank")
        let root = try XCTUnwrap(users.principal(accessKeyId: "root-key"))
        XCTAssertEqual(root.accountId, "600968920799", "derived from root's canonical id, itself derived from the access key")
        XCTAssertEqual(Principal.root(accessKeyId: "root-key").accountId, root.accountId)
        XCTAssertTrue(users.hasAccount(Self.sharedAccount))
        XCTAssertFalse(users.hasAccount("999999999999"))
        // An owner no longer in the users file keeps the account derived from its id.
        XCTAssertEqual(users.accountId(canonicalId: "bob-id"), Self.bobAccount)
        XCTAssertEqual(users.accountId(canonicalId: "gone-id"), Principal.derivedAccountId(canonicalId: "gone-id"))
    }

    /// IAM: NotPrincipal with an account applies to everyone outside that account.
    func testNotPrincipalAccountExcludesEveryUserOfIt() throws {
        let users = try UserDirectory(root: [:], usersFile: Self.usersFile)
        let policy = try BucketPolicy.parse(bytes(#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::\#(Self.sharedAccount):root"},"#
                                                  + #""Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#), bucket: "b", users: users)
        for (key, decision) in [("alice-key", BucketPolicy.Decision.none), ("carol-key", .none), ("bob-key", .deny)] {
            let principal = try XCTUnwrap(users.principal(accessKeyId: key))
            XCTAssertEqual(policy.evaluate(principal: principal, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", keys: [:]),
                           decision, key)
        }
        XCTAssertEqual(policy.evaluate(principal: .anonymous, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", keys: [:]), .deny)
    }

    static func getObjectPolicy(bucket: String, principal: String) -> [UInt8] {
        bytes(#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":\#(principal)},"#
              + #""Action":"s3:GetObject","Resource":"arn:aws:s3:::\#(bucket)/*"}]}"#)
    }

    /// AWS: a policy principal `arn:aws:iam::ACCOUNT:root` is the account, and so every
    /// identity in it (IAM's "AWS account principals"), never an anonymous caller.
    func testPolicyPrincipalAccountRootArnGrantsEveryUserOfThatAccount() async throws {
        try await withUsers { c in
            try await c.bob.createBucket("bobs")
            try await c.bob.put("bobs", "k", bytes("shared"))
            let policy = Self.getObjectPolicy(bucket: "bobs", principal: #""arn:aws:iam::\#(Self.sharedAccount):root""#)
            try await c.bob.expect(204, "PUT", "/bobs", query: Self.policyQuery, body: policy)
            for member in [c.alice, c.carol] {
                await assertEqual(try await member.expect(200, "GET", "/bobs/k").body, bytes("shared"))
            }
            try await c.dave.expect(403, "GET", "/bobs/k")
            try await c.anonymous.expect(403, "GET", "/bobs/k")
        }
    }

    /// AWS: `"Principal": {"AWS": "123456789012"}` is the same as the account's root ARN
    /// (IAM's "AWS account principals"). An account given in the users file and one
    /// derived from a canonical id both match.
    func testPolicyPrincipalBareAccountIdIsTheAccount() async throws {
        try await withUsers { c in
            try await c.alice.createBucket("alices")
            try await c.alice.put("alices", "k", bytes("data"))
            let policy = Self.getObjectPolicy(bucket: "alices", principal: #"["\#(Self.bobAccount)", "\#(Self.sharedAccount)"]"#)
            try await c.alice.expect(204, "PUT", "/alices", query: Self.policyQuery, body: policy)
            for caller in [c.bob, c.carol] {
                await assertEqual(try await caller.expect(200, "GET", "/alices/k").body, bytes("data"))
            }
            try await c.dave.expect(403, "GET", "/alices/k")
            try await c.anonymous.expect(403, "GET", "/alices/k")
            // A Deny for an account wins over the Allow, for each of its users.
            let deny = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","#
                + #""Resource":"arn:aws:s3:::alices/*"},{"Effect":"Deny","Principal":{"AWS":"\#(Self.daveAccount)"},"#
                + #""Action":"s3:GetObject","Resource":"arn:aws:s3:::alices/*"}]}"#
            try await c.alice.expect(204, "PUT", "/alices", query: Self.policyQuery, body: bytes(deny))
            try await c.dave.expect(403, "GET", "/alices/k")
            try await c.bob.expect(200, "GET", "/alices/k")
        }
    }

    /// AWS refuses a policy naming an account that does not exist ("Invalid principal in
    /// policy", MalformedPolicy); the policy in place stays.
    func testPolicyPrincipalUnknownAccountIsMalformedPolicyAndChangesNothing() async throws {
        try await withUsers { c in
            try await c.alice.createBucket("alices")
            let good = Self.getObjectPolicy(bucket: "alices", principal: #""\#(Self.bobAccount)""#)
            try await c.alice.expect(204, "PUT", "/alices", query: Self.policyQuery, body: good)
            for principal in [#""999999999999""#, #""arn:aws:iam::999999999999:root""#, #""12345""#,
                              #""arn:aws:iam::12345678901x:root""#] {
                let refused = try await c.alice.call("PUT", "/alices", query: Self.policyQuery,
                                                     body: Self.getObjectPolicy(bucket: "alices", principal: principal))
                assertS3Error(refused, status: 400, code: "MalformedPolicy")
            }
            await assertEqual(try await c.alice.expect(200, "GET", "/alices", query: Self.policyQuery).body, good)
        }
    }

    /// Policies written before accounts existed name users as
    /// `arn:aws:iam::000000000000:user/NAME`; they keep matching the user named.
    func testPolicyPrincipalUserArnKeepsWorking() async throws {
        try await withUsers { c in
            try await c.alice.createBucket("alices")
            try await c.alice.put("alices", "k", bytes("data"))
            let policy = Self.getObjectPolicy(bucket: "alices", principal: #""arn:aws:iam::000000000000:user/Bob""#)
            try await c.alice.expect(204, "PUT", "/alices", query: Self.policyQuery, body: policy)
            try await c.bob.expect(200, "GET", "/alices/k")
            try await c.carol.expect(403, "GET", "/alices/k")
        }
    }

    /// IAM's `aws:PrincipalAccount` condition key is the caller's account id.
    func testPolicyConditionPrincipalAccountIsTheCallersAccount() async throws {
        try await withUsers { c in
            try await c.dave.createBucket("daves")
            try await c.dave.put("daves", "k", bytes("data"))
            let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","#
                + #""Resource":"arn:aws:s3:::daves/*","Condition":{"StringEquals":{"aws:PrincipalAccount":"\#(Self.sharedAccount)"}}}]}"#
            try await c.dave.expect(204, "PUT", "/daves", query: Self.policyQuery, body: bytes(policy))
            try await c.carol.expect(200, "GET", "/daves/k")
            try await c.bob.expect(403, "GET", "/daves/k")
            try await c.anonymous.expect(403, "GET", "/daves/k")
        }
    }

    /// The account column is not part of the display name: ListBuckets shows the name alone.
    func testUsersFileAccountColumnIsNotPartOfTheDisplayName() async throws {
        try await withUsers { c in
            let list = try await c.carol.expect(200, "GET", "/").xml()
            XCTAssertEqual(list.text("Owner", "ID"), "carol-id")
            XCTAssertEqual(list.text("Owner", "DisplayName"), "Carol Jones")
        }
    }

    /// AWS compares `x-amz-expected-bucket-owner` (and `x-amz-source-expected-bucket-owner`)
    /// with the bucket owner's account id; Strata also still accepts the owner's canonical id.
    func testExpectedBucketOwnerIsTheOwnersAccountId() async throws {
        try await withUsers { c in
            try await c.bob.createBucket("bobs")
            try await c.bob.put("bobs", "k", [1, 2, 3])
            for expected in [Self.bobAccount, "bob-id"] {
                try await c.bob.expect(200, "HEAD", "/bobs/k", headers: [("x-amz-expected-bucket-owner", expected)])
            }
            for wrong in [Self.sharedAccount, Self.daveAccount, "58657171763"] {
                let refused = try await c.bob.call("HEAD", "/bobs/k", headers: [("x-amz-expected-bucket-owner", wrong)])
                XCTAssertEqual(refused.status, 403, wrong)
            }
            // Alice's bucket belongs to the account she shares with Carol.
            try await c.alice.createBucket("alices")
            try await c.alice.createBucket("alices-src")
            try await c.alice.put("alices-src", "k", [4, 5])
            let refusedCopy = try await c.alice.call("PUT", "/alices/copy", headers: [
                ("x-amz-copy-source", "/alices-src/k"), ("x-amz-source-expected-bucket-owner", Self.bobAccount),
            ])
            assertS3Error(refusedCopy, status: 403, code: "AccessDenied")
            try await c.alice.expect(404, "HEAD", "/alices/copy")
            try await c.alice.expect(200, "PUT", "/alices/copy", headers: [
                ("x-amz-copy-source", "/alices-src/k"), ("x-amz-source-expected-bucket-owner", Self.sharedAccount),
                ("x-amz-expected-bucket-owner", Self.sharedAccount),
            ])
        }
    }
}
