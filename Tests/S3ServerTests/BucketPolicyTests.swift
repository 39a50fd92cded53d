import XCTest
@testable import S3Server

/// Bucket policy parsing and evaluation (IAM's rules as S3 applies them) and ACL logic,
/// without a server.
final class BucketPolicyTests: XCTestCase {
    static let users = try! UserDirectory(root: ["root-key": "root-secret"],
                                          usersFile: "alice-key alice-secret alice-id Alice\nbob-key bob-secret bob-id Bob\n")
    static let alice = users.principal(accessKeyId: "alice-key")!
    static let bob = users.principal(accessKeyId: "bob-key")!

    static func policy(_ statements: String) throws -> BucketPolicy {
        try BucketPolicy.parse(bytes(#"{"Version":"2012-10-17","Statement":["# + statements + "]}"), bucket: "b", users: users)
    }

    func decide(_ policy: BucketPolicy, _ principal: Principal, _ action: String, _ resource: String,
                _ keys: [String: [String]] = [:]) -> BucketPolicy.Decision {
        policy.evaluate(principal: principal, action: action, resource: resource, keys: keys)
    }

    /// IAM: an explicit Deny wins over any Allow.
    func testExplicitDenyWinsOverAllow() throws {
        let policy = try Self.policy("""
            {"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:user/Bob"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}
            """)
        XCTAssertEqual(decide(policy, Self.bob, "s3:DeleteObject", "arn:aws:s3:::b/k"), .deny)
        XCTAssertEqual(decide(policy, Self.bob, "s3:GetObject", "arn:aws:s3:::b/k"), .allow)
        XCTAssertEqual(decide(policy, Self.alice, "s3:DeleteObject", "arn:aws:s3:::b/k"), .allow)
        XCTAssertEqual(decide(policy, .anonymous, "s3:DeleteObject", "arn:aws:s3:::b/k"), .allow)
    }

    /// Action and Resource wildcards (`*`, `?`); action names are case-insensitive,
    /// resources are not.
    func testActionAndResourceWildcards() throws {
        let policy = try Self.policy("""
            {"Effect":"Allow","Principal":{"CanonicalUser":"alice-id"},"Action":"s3:get*","Resource":"arn:aws:s3:::b/public/*"}
            """)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/public/x/y"), .allow)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObjectAcl", "arn:aws:s3:::b/public/x"), .allow)
        XCTAssertEqual(decide(policy, Self.alice, "s3:PutObject", "arn:aws:s3:::b/public/x"), .none)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/Public/x"), .none)
        XCTAssertEqual(decide(policy, Self.bob, "s3:GetObject", "arn:aws:s3:::b/public/x"), .none)
        XCTAssertEqual(decide(policy, .anonymous, "s3:GetObject", "arn:aws:s3:::b/public/x"), .none)
        XCTAssertTrue(Wildcard.matches("a?c*", "abcdef"))
        XCTAssertFalse(Wildcard.matches("a?c", "ac"))
        XCTAssertTrue(Wildcard.matches("*", ""))
    }

    /// StringLike on s3:prefix; a key the request lacks makes StringLike false and
    /// StringNotLike true (IAM condition operators), and …IfExists true.
    func testConditionsOnAbsentKeys() throws {
        let allow = try Self.policy("""
            {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*","public/*"]}}}
            """)
        XCTAssertEqual(decide(allow, Self.alice, "s3:ListBucket", "arn:aws:s3:::b", ["s3:prefix": ["public/a"]]), .allow)
        XCTAssertEqual(decide(allow, Self.alice, "s3:ListBucket", "arn:aws:s3:::b",
                              ["s3:prefix": ["home/Alice/x"], "aws:username": ["Alice"]]), .allow)
        XCTAssertEqual(decide(allow, Self.bob, "s3:ListBucket", "arn:aws:s3:::b",
                              ["s3:prefix": ["home/Alice/x"], "aws:username": ["Bob"]]), .none)
        XCTAssertEqual(decide(allow, Self.alice, "s3:ListBucket", "arn:aws:s3:::b", [:]), .none)

        let deny = try Self.policy("""
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringNotLike":{"s3:prefix":"public/*"}}},
            {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringEqualsIfExists":{"s3:delimiter":"/"}}}
            """)
        XCTAssertEqual(decide(deny, Self.alice, "s3:ListBucket", "arn:aws:s3:::b", [:]), .deny)
        XCTAssertEqual(decide(deny, Self.alice, "s3:ListBucket", "arn:aws:s3:::b", ["s3:prefix": ["public/"]]), .allow)
        XCTAssertEqual(decide(deny, Self.alice, "s3:ListBucket", "arn:aws:s3:::b",
                              ["s3:prefix": ["public/"], "s3:delimiter": ["|"]]), .none)
    }

    /// The usual "deny plain HTTP" policy: Bool aws:SecureTransport false denies requests
    /// over HTTP (and JSON `false` reads like "false").
    func testSecureTransportDeny() throws {
        let policy = try Self.policy("""
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":false}}}
            """)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/k", ["aws:securetransport": ["false"]]), .deny)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/k", ["aws:securetransport": ["true"]]), .none)
    }

    /// IpAddress / NotIpAddress with CIDR ranges, numeric and date operators.
    func testIpNumericAndDateOperators() throws {
        let policy = try Self.policy("""
            {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"NumericLessThanEquals":{"s3:max-keys":"10"},"DateLessThan":{"aws:CurrentTime":"2100-01-01T00:00:00Z"}}}
            """)
        let now = ["aws:currenttime": ["2026-12-04T00:00:00.000Z"]]
        XCTAssertEqual(decide(policy, .anonymous, "s3:ListBucket", "arn:aws:s3:::b",
                              now.merging(["aws:sourceip": ["127.0.0.1"], "s3:max-keys": ["5"]]) { a, _ in a }), .allow)
        XCTAssertEqual(decide(policy, .anonymous, "s3:ListBucket", "arn:aws:s3:::b",
                              now.merging(["aws:sourceip": ["10.0.0.1"], "s3:max-keys": ["5"]]) { a, _ in a }), .none)
        XCTAssertEqual(decide(policy, .anonymous, "s3:ListBucket", "arn:aws:s3:::b",
                              now.merging(["aws:sourceip": ["127.0.0.1"], "s3:max-keys": ["50"]]) { a, _ in a }), .none)
        XCTAssertTrue(IPRange("::1/128")!.contains("::1"))
        XCTAssertFalse(IPRange("192.168.1.0/24")!.contains("192.168.2.1"))
    }

    /// Policies S3 refuses with MalformedPolicy.
    func testMalformedPoliciesAreRefused() {
        let cases: [(String, String)] = [
            ("not json", "{"),
            ("no statement", #"{"Version":"2012-10-17"}"#),
            ("no principal", #"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#),
            ("bad effect", #"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#),
            ("unknown action", #"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Fly","Resource":"arn:aws:s3:::b/*"}]}"#),
            ("other bucket", #"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#),
            ("action on wrong resource", #"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b"}]}"#),
            ("unknown condition", #"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringSortOf":{"s3:prefix":"a"}}}]}"#),
            ("unknown user", #"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:user/Carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#),
            ("over 20 KB", String(repeating: " ", count: 21 * 1024) + "{}"),
            ("bucket action on objects", #"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b/*"}]}"#),
            ("unknown s3 condition key", #"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:bogusKey":"x"}}}]}"#),
            ("unknown version", #"{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#),
        ]
        for (name, text) in cases {
            XCTAssertThrowsError(try BucketPolicy.parse(bytes(text), bucket: "b", users: Self.users), name) { error in
                XCTAssertEqual((error as? S3Error)?.code, "MalformedPolicy", name)
            }
        }
    }

    /// GetBucketPolicyStatus: public when an Allow goes to "*" without a condition that
    /// pins the caller down (S3's "The meaning of public").
    func testPolicyIsPublic() throws {
        XCTAssertTrue(try Self.policy(#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#).isPublic)
        XCTAssertFalse(try Self.policy(#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#).isPublic)
        XCTAssertFalse(try Self.policy(#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#).isPublic)
        XCTAssertFalse(try Self.policy(#"{"Effect":"Allow","Principal":{"CanonicalUser":"bob-id"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#).isPublic)
    }

    /// NumericNotEquals / DateNotEquals are true when no policy value equals the request's;
    /// ForAnyValue needs a value; IPv4 clients on a dual-stack listener match IPv4 ranges.
    func testNegatedOperatorsQualifiersAndMappedAddresses() throws {
        XCTAssertTrue(ConditionOperators.matches("NumericNotEquals", requestValue: "5", policyValues: ["10"]))
        XCTAssertFalse(ConditionOperators.matches("NumericNotEquals", requestValue: "10", policyValues: ["10"]))
        XCTAssertFalse(ConditionOperators.matches("DateNotEquals", requestValue: "2026-01-01T00:00:00Z", policyValues: ["2026-01-01T00:00:00Z"]))
        let anyValue = BucketPolicy.Condition(operator_: "StringNotEquals", key: "s3:prefix", values: ["a"], ifExists: false, qualifier: "ForAnyValue")
        XCTAssertFalse(anyValue.holds([:]))
        XCTAssertTrue(IPRange("127.0.0.0/8")!.contains("::ffff:127.0.0.1"))
    }

    /// Policy variables insert literal text: `${*}` is a star, not a wildcard, and a
    /// user name with `*` in it matches only itself.
    func testPolicyVariablesAreLiteral() throws {
        let policy = try Self.policy("""
            {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${*}/${aws:username}/*"}
            """)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/*/Alice/x", ["aws:username": ["Alice"]]), .allow)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/any/Alice/x", ["aws:username": ["Alice"]]), .none)
        XCTAssertEqual(decide(policy, Self.alice, "s3:GetObject", "arn:aws:s3:::b/*/Bob/x", ["aws:username": ["*"]]), .none)
    }

    /// "Public" as S3 means it: NotPrincipal Allows are public, and only positive
    /// conditions with fixed values on non-public keys make a statement non-public.
    func testPublicPolicyEdgeCases() throws {
        let cases: [(String, Bool)] = [
            (#"{"Effect":"Allow","NotPrincipal":{"CanonicalUser":"bob-id"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#, true),
            (#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#, true),
            (#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}"#, true),
            (#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:SourceVpc":"vpc-*"}}}"#, true),
            (#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}"#, false),
        ]
        for (statement, expected) in cases {
            XCTAssertEqual(try Self.policy(statement).isPublic, expected, statement)
        }
    }

    // MARK: - ACLs

    /// Canned ACLs as S3 defines them, and who they let in.
    func testCannedACLs() throws {
        let publicRead = try AccessControlList.canned("public-read", owner: "alice-id", bucketOwner: nil)
        XCTAssertTrue(publicRead.allows(.anonymous, .read))
        XCTAssertFalse(publicRead.allows(.anonymous, .write))
        XCTAssertTrue(publicRead.allows(Self.alice, .writeACP))
        XCTAssertFalse(publicRead.allows(.anonymous, .read, ignoringPublicGrants: true))
        let authenticated = try AccessControlList.canned("authenticated-read", owner: "alice-id", bucketOwner: nil)
        XCTAssertTrue(authenticated.allows(Self.bob, .read))
        XCTAssertFalse(authenticated.allows(.anonymous, .read))
        let ownerFull = try AccessControlList.canned("bucket-owner-full-control", owner: "bob-id", bucketOwner: "alice-id")
        XCTAssertTrue(ownerFull.allows(Self.alice, .read))
        XCTAssertTrue(ownerFull.allows(Self.alice, .writeACP))
        let ownerRead = try AccessControlList.canned("bucket-owner-read", owner: "bob-id", bucketOwner: "alice-id")
        XCTAssertTrue(ownerRead.allows(Self.alice, .read))
        XCTAssertFalse(ownerRead.allows(Self.alice, .writeACP))
        XCTAssertThrowsError(try AccessControlList.canned("everyone", owner: "a", bucketOwner: nil))
    }

    /// x-amz-grant-* headers: ids of known users and group URIs; e-mail grants cannot be
    /// resolved; canned and grant headers together are refused.
    func testGrantHeaders() throws {
        let headers = ["x-amz-grant-read": #"uri="http://acs.amazonaws.com/groups/global/AllUsers", id="bob-id""#,
                       "x-amz-grant-write-acp": #"id="bob-id""#]
        let acl = try XCTUnwrap(AccessControlList.fromHeaders({ headers[$0] }, owner: "alice-id", bucketOwner: nil, users: Self.users))
        XCTAssertTrue(acl.allows(.anonymous, .read))
        XCTAssertTrue(acl.allows(Self.bob, .writeACP))
        XCTAssertFalse(acl.allows(Self.alice, .fullControl), "grant headers replace the default grant")
        XCTAssertThrowsError(try AccessControlList.fromHeaders({ ["x-amz-grant-read": #"id="nobody""#][$0] }, owner: "a", bucketOwner: nil, users: Self.users))
        XCTAssertThrowsError(try AccessControlList.fromHeaders({ ["x-amz-grant-read": #"emailAddress="a@b.c""#][$0] }, owner: "a", bucketOwner: nil, users: Self.users)) {
            XCTAssertEqual(($0 as? S3Error)?.code, "UnresolvableGrantByEmailAddress")
        }
        XCTAssertThrowsError(try AccessControlList.fromHeaders({ ["x-amz-acl": "private", "x-amz-grant-read": #"id="bob-id""#][$0] }, owner: "a", bucketOwner: nil, users: Self.users)) {
            XCTAssertEqual(($0 as? S3Error)?.code, "InvalidRequest")
        }
    }

    /// The stored text form and the AccessControlPolicy document both round-trip.
    func testACLRoundTrips() throws {
        let acl = AccessControlList(owner: "alice-id", grants: [
            .init(grantee: .user(canonicalId: "alice-id"), permission: .fullControl),
            .init(grantee: .group(.authenticatedUsers), permission: .read),
            .init(grantee: .user(canonicalId: "bob-id"), permission: .writeACP),
        ])
        XCTAssertEqual(AccessControlList.decode(acl.encoded()), acl)
        XCTAssertNil(AccessControlList.decode([]))
        let document = acl.render(users: Self.users).bytes
        XCTAssertEqual(try AccessControlList.parse(document, users: Self.users), acl)
        XCTAssertTrue(String(decoding: document, as: UTF8.self).contains("<DisplayName>Bob</DisplayName>"))
        XCTAssertThrowsError(try AccessControlList.parse(bytes("<AccessControlPolicy><AccessControlList/></AccessControlPolicy>"), users: Self.users)) {
            XCTAssertEqual(($0 as? S3Error)?.code, "MalformedACLError")
        }
    }

    /// The users file: four fields a line, comments, duplicates refused.
    func testUsersFile() throws {
        XCTAssertEqual(Self.bob.displayName, "Bob")
        XCTAssertEqual(Self.users.secret(accessKeyId: "bob-key"), "bob-secret")
        XCTAssertTrue(Self.users.principal(accessKeyId: "root-key")!.isRoot)
        XCTAssertThrowsError(try UserDirectory(root: [:], usersFile: "a b c\n"))
        XCTAssertThrowsError(try UserDirectory(root: [:], usersFile: "a s id1 A\na s id2 B\n"))
        XCTAssertThrowsError(try UserDirectory(root: [:], usersFile: "a s id1 A\nb s id1 B\n"))
        XCTAssertThrowsError(try UserDirectory(root: [:], usersFile: "a s bad/id A\n"))
        XCTAssertThrowsError(try UserDirectory(root: [:], usersFile: "a s id1 Same\nb s id2 Same\n"), "display names name users in policies")
        let spaced = try UserDirectory(root: [:], usersFile: "# comment\n\n  k s id Display Name With Spaces \n")
        XCTAssertEqual(spaced.principal(accessKeyId: "k")?.displayName, "Display Name With Spaces")
    }
}
