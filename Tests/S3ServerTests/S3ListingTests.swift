import Foundation
import XCTest
@testable import S3Server

/// ListObjects (v1) and ListObjectsV2 through a real server: prefixes, delimiters,
/// markers, continuation tokens across many pages, URL encoding and XML escaping.
final class S3ListingTests: XCTestCase {
    /// Lists bucket `bkt` with `query`, asserts 200 and returns the document.
    func list(_ client: S3TestClient, _ query: [(name: String, value: String?)], bucket: String = "bkt",
              file: StaticString = #filePath, line: UInt = #line) async throws -> XMLTree {
        let response = try await client.call("GET", S3Path.encode(bucket: bucket), query: query)
        XCTAssertEqual(response.status, 200, response.bodyString, file: file, line: line)
        let xml = try response.xml()
        XCTAssertEqual(xml.name, "ListBucketResult", file: file, line: line)
        return xml
    }

    /// Runs `body` with bucket `bkt` holding `keys`.
    func withKeys(_ keys: [String], _ body: (S3TestClient) async throws -> Void) async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("bkt")
            try await server.seed(bucket: "bkt", keys: keys)
            try await body(client)
        }
    }

    /// Byte-wise (UTF-8) order, the order S3 lists keys in.
    static func sorted(_ keys: [String]) -> [String] {
        keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    static func numberedKeys(_ count: Int) -> [String] {
        (0..<count).map { String(format: "key-%05d", $0) }
    }

    /// One page of a ListObjectsV2 walk.
    struct PageSummary {
        var keys: [String]
        var prefixes: [String]
    }

    /// Walks a whole ListObjectsV2 listing with `max-keys`, checking on every page what
    /// docs/S3-NOTES.md, "ListObjectsV2 paging", asks: NextContinuationToken present
    /// exactly when IsTruncated, never a token twice, KeyCount = keys + common prefixes
    /// ≤ max-keys, the token echoed.
    func walkV2(_ client: S3TestClient, maxKeys: Int, extra: [(name: String, value: String?)] = [],
                file: StaticString = #filePath, line: UInt = #line) async throws -> [PageSummary] {
        var pages: [PageSummary] = []
        var token: String?
        var seenTokens: Set<String> = []
        repeat {
            var query: [(name: String, value: String?)] = [("list-type", "2"), ("max-keys", String(maxKeys))] + extra
            if let token { query.append(("continuation-token", token)) }
            let xml = try await list(client, query, file: file, line: line)
            let keys = xml.texts("Contents", "Key")
            let prefixes = xml.texts("CommonPrefixes", "Prefix")
            XCTAssertEqual(xml.text("KeyCount"), String(keys.count + prefixes.count), file: file, line: line)
            XCTAssertLessThanOrEqual(keys.count + prefixes.count, maxKeys, file: file, line: line)
            XCTAssertEqual(xml.text("MaxKeys"), String(maxKeys), file: file, line: line)
            XCTAssertEqual(xml.text("ContinuationToken"), token, file: file, line: line)
            let truncated = xml.text("IsTruncated")
            let next = xml.text("NextContinuationToken")
            XCTAssertTrue(truncated == "true" || truncated == "false", file: file, line: line)
            XCTAssertEqual(next != nil, truncated == "true", "NextContinuationToken exactly when truncated", file: file, line: line)
            if let next {
                XCTAssertFalse(seenTokens.contains(next), "token \(next) returned twice", file: file, line: line)
                seenTokens.insert(next)
                XCTAssertGreaterThan(keys.count + prefixes.count, 0, "a truncated page makes progress", file: file, line: line)
            }
            pages.append(PageSummary(keys: keys, prefixes: prefixes))
            token = next
            if pages.count > 10_000 { XCTFail("listing does not end", file: file, line: line); break }
        } while token != nil
        return pages
    }

    // MARK: ListObjects v1

    /// v1 with a prefix lists only keys under it; with a delimiter, keys past the
    /// delimiter roll up into CommonPrefixes; Prefix and Delimiter are echoed.
    func testV1PrefixAndDelimiterRollUpCommonPrefixes() async throws {
        try await withKeys(["a/1", "a/2", "a/x/3", "b/1", "c", "d/e/f", "ab"]) { client in
            let all = try await list(client, [])
            XCTAssertEqual(all.texts("Contents", "Key"), ["a/1", "a/2", "a/x/3", "ab", "b/1", "c", "d/e/f"])
            XCTAssertEqual(all.text("IsTruncated"), "false")
            XCTAssertEqual(all.text("Name"), "bkt")

            let rolled = try await list(client, [("delimiter", "/")])
            XCTAssertEqual(rolled.texts("Contents", "Key"), ["ab", "c"])
            XCTAssertEqual(rolled.texts("CommonPrefixes", "Prefix"), ["a/", "b/", "d/"])
            XCTAssertEqual(rolled.text("Delimiter"), "/")

            let underA = try await list(client, [("prefix", "a/"), ("delimiter", "/")])
            XCTAssertEqual(underA.text("Prefix"), "a/")
            XCTAssertEqual(underA.texts("Contents", "Key"), ["a/1", "a/2"])
            XCTAssertEqual(underA.texts("CommonPrefixes", "Prefix"), ["a/x/"])

            let prefixOnly = try await list(client, [("prefix", "a")])
            XCTAssertEqual(prefixOnly.texts("Contents", "Key"), ["a/1", "a/2", "a/x/3", "ab"])
            let none = try await list(client, [("prefix", "zzz")])
            XCTAssertEqual(none.texts("Contents", "Key"), [])
        }
    }

    /// A delimiter of several characters rolls up at its first occurrence after the
    /// prefix; a key equal to the prefix itself (a "folder" object) is listed as a key.
    func testMultiCharacterDelimiterAndKeyEqualToPrefix() async throws {
        try await withKeys(["a--b--c", "a--d", "a--", "x", "dir/", "dir/f"]) { client in
            let top = try await list(client, [("list-type", "2"), ("delimiter", "--")])
            XCTAssertEqual(top.texts("Contents", "Key"), ["dir/", "dir/f", "x"])
            XCTAssertEqual(top.texts("CommonPrefixes", "Prefix"), ["a--"])
            let under = try await list(client, [("list-type", "2"), ("delimiter", "--"), ("prefix", "a--")])
            XCTAssertEqual(under.texts("Contents", "Key"), ["a--", "a--d"])
            XCTAssertEqual(under.texts("CommonPrefixes", "Prefix"), ["a--b--"])
            let folder = try await list(client, [("list-type", "2"), ("delimiter", "/"), ("prefix", "dir/")])
            XCTAssertEqual(folder.texts("Contents", "Key"), ["dir/", "dir/f"])
            XCTAssertEqual(folder.texts("CommonPrefixes", "Prefix"), [])
        }
    }

    /// v1 Contents carry Key, LastModified (ISO 8601), the quoted ETag, Size, Owner and
    /// StorageClass.
    func testV1ContentsCarryETagSizeOwnerAndStorageClass() async throws {
        try await withKeys(["hello"]) { client in
            let xml = try await list(client, [])
            let contents = try XCTUnwrap(xml.child("Contents"))
            XCTAssertEqual(contents.text("Key"), "hello")
            XCTAssertEqual(contents.text("ETag"), "\"\(md5Hex(bytes("hello")))\"")
            XCTAssertEqual(contents.text("Size"), "5")
            XCTAssertEqual(contents.text("StorageClass"), "STANDARD")
            XCTAssertTrue(S3BucketOperationTests.isISO8601(contents.text("LastModified") ?? ""))
            XCTAssertEqual(contents.text("Owner", "DisplayName"), S3TestServer.accessKey)
        }
    }

    /// A listing entry shows the storage class the object was stored with (S3 lists
    /// REDUCED_REDUNDANCY as such), found among other metadata the listing does not
    /// show, and the size and time in full.
    func testV2ContentsShowTheStorageClassAmongOtherMetadata() async throws {
        try await withKeys([]) { client in
            let body = [UInt8](repeating: 7, count: 1_234_567)
            try await client.put("bkt", "rr", body, headers: [
                ("Content-Type", "text/plain"), ("x-amz-meta-a", "1"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("x-amz-meta-z", String(repeating: "z", count: 40)),
            ])
            try await client.put("bkt", "std", [1], headers: [("x-amz-meta-x-amz-storage-class", "not this")])
            let xml = try await list(client, [("list-type", "2")])
            let entries = xml.children("Contents")
            XCTAssertEqual(entries.map { $0.text("Key") }, ["rr", "std"])
            XCTAssertEqual(entries.map { $0.text("StorageClass") }, ["REDUCED_REDUNDANCY", "STANDARD"])
            XCTAssertEqual(entries.first?.text("Size"), "1234567")
            let head = try await client.call("HEAD", "/bkt/rr")
            let lastModified = try XCTUnwrap(head.header("Last-Modified"))
            let listed = try XCTUnwrap(entries.first?.text("LastModified"))
            XCTAssertTrue(S3BucketOperationTests.isISO8601(listed), listed)
            XCTAssertEqual(TimeFormat.httpDate(milliseconds: try XCTUnwrap(Self.milliseconds(iso8601: listed))), lastModified)
        }
    }

    /// Milliseconds since 1970 of `2009-10-12T17:50:30.000Z`.
    static func milliseconds(iso8601 text: String) -> Int64? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// v1 with max-keys and marker: pages of max-keys keys after the marker, NextMarker
    /// on truncated pages; following NextMarker visits every key exactly once.
    func testV1MarkerAndMaxKeysPaginateWithNextMarker() async throws {
        let keys = Self.numberedKeys(23)
        try await withKeys(keys) { client in
            let first = try await list(client, [("max-keys", "5")])
            XCTAssertEqual(first.texts("Contents", "Key"), Array(keys[0..<5]))
            XCTAssertEqual(first.text("IsTruncated"), "true")
            XCTAssertEqual(first.text("NextMarker"), keys[4])
            XCTAssertEqual(first.text("MaxKeys"), "5")

            let afterMarker = try await list(client, [("marker", keys[10]), ("max-keys", "3")])
            XCTAssertEqual(afterMarker.text("Marker"), keys[10])
            XCTAssertEqual(afterMarker.texts("Contents", "Key"), Array(keys[11..<14]))

            var seen: [String] = []
            var marker: String?
            var pages = 0
            repeat {
                var query: [(name: String, value: String?)] = [("max-keys", "4")]
                if let marker { query.append(("marker", marker)) }
                let page = try await list(client, query)
                let pageKeys = page.texts("Contents", "Key")
                seen += pageKeys
                pages += 1
                if page.text("IsTruncated") == "true" {
                    marker = page.text("NextMarker") ?? pageKeys.last
                    XCTAssertNotNil(marker)
                } else {
                    XCTAssertNil(page.text("NextMarker"))
                    marker = nil
                }
            } while marker != nil && pages < 100
            XCTAssertEqual(seen, keys)
            XCTAssertEqual(pages, 6)
        }
    }

    /// v1 with a delimiter: NextMarker may be a common prefix, and paging on it never
    /// repeats that prefix.
    func testV1DelimiterPagingNeverRepeatsCommonPrefixes() async throws {
        var keys: [String] = []
        for d in 0..<4 { for f in 0..<3 { keys.append("dir\(d)/f\(f)") } }
        keys += ["a-top", "dir1x", "z-top"]
        try await withKeys(keys) { client in
            var entries: [String] = []
            var marker: String?
            var pages = 0
            repeat {
                var query: [(name: String, value: String?)] = [("delimiter", "/"), ("max-keys", "2")]
                if let marker { query.append(("marker", marker)) }
                let page = try await list(client, query)
                entries += page.texts("Contents", "Key") + page.texts("CommonPrefixes", "Prefix")
                pages += 1
                marker = page.text("IsTruncated") == "true" ? page.text("NextMarker") : nil
                if page.text("IsTruncated") == "true" { XCTAssertNotNil(marker, "NextMarker with a delimiter") }
            } while marker != nil && pages < 100
            XCTAssertEqual(Self.sorted(entries), ["a-top", "dir0/", "dir1/", "dir1x", "dir2/", "dir3/", "z-top"])
            XCTAssertEqual(Set(entries).count, entries.count, "nothing repeated: \(entries)")
        }
    }

    // MARK: ListObjectsV2

    /// 1,200 keys with max-keys 1000 (the default page size): a page of 1000 with a
    /// NextContinuationToken, then 200 without; every key exactly once, in order.
    func testV2ContinuationTokenPagesThrough1200KeysWithMaxKeys1000() async throws {
        let keys = Self.numberedKeys(1200)
        try await withKeys(keys) { client in
            let pages = try await walkV2(client, maxKeys: 1000)
            XCTAssertEqual(pages.map(\.keys.count), [1000, 200])
            XCTAssertEqual(pages.flatMap(\.keys), keys)
            // No max-keys at all means 1000.
            let defaulted = try await list(client, [("list-type", "2")])
            XCTAssertEqual(defaulted.texts("Contents", "Key").count, 1000)
            XCTAssertEqual(defaulted.text("MaxKeys"), "1000")
            XCTAssertEqual(defaulted.text("IsTruncated"), "true")
        }
    }

    /// 1,200 keys with max-keys 7: 172 pages, every key exactly once, in order; no token
    /// ever repeated; a token on every page but the last.
    func testV2ContinuationTokenPagesThrough1200KeysWithMaxKeys7() async throws {
        let keys = Self.numberedKeys(1200)
        try await withKeys(keys) { client in
            let pages = try await walkV2(client, maxKeys: 7)
            XCTAssertEqual(pages.count, 172)
            XCTAssertEqual(pages.flatMap(\.keys), keys)
            XCTAssertEqual(pages.last?.keys.count, 1200 % 7)
        }
    }

    /// A listing that ends exactly at a page boundary: the last full page is not
    /// truncated and has no NextContinuationToken.
    func testV2ExactlyFullLastPageIsNotTruncated() async throws {
        let keys = Self.numberedKeys(14)
        try await withKeys(keys) { client in
            let pages = try await walkV2(client, maxKeys: 7)
            XCTAssertEqual(pages.map(\.keys.count), [7, 7])
            XCTAssertEqual(pages.flatMap(\.keys), keys)
        }
    }

    /// start-after: only keys after it (it need not exist), echoed as StartAfter; a
    /// continuation token takes precedence over it.
    func testV2StartAfterListsOnlyLaterKeys() async throws {
        let keys = Self.numberedKeys(10)
        try await withKeys(keys) { client in
            let xml = try await list(client, [("list-type", "2"), ("start-after", keys[6])])
            XCTAssertEqual(xml.texts("Contents", "Key"), Array(keys[7...]))
            XCTAssertEqual(xml.text("StartAfter"), keys[6])
            let between = try await list(client, [("list-type", "2"), ("start-after", "key-00003.5")])
            XCTAssertEqual(between.texts("Contents", "Key"), Array(keys[4...]))

            let first = try await list(client, [("list-type", "2"), ("start-after", keys[1]), ("max-keys", "2")])
            XCTAssertEqual(first.texts("Contents", "Key"), [keys[2], keys[3]])
            let token = try XCTUnwrap(first.text("NextContinuationToken"))
            let second = try await list(client, [("list-type", "2"), ("start-after", keys[1]), ("max-keys", "2"),
                                                 ("continuation-token", token)])
            XCTAssertEqual(second.texts("Contents", "Key"), [keys[4], keys[5]])
        }
    }

    /// With a delimiter and small pages, a common prefix appears on exactly one page,
    /// including when a page ends on it (docs/S3-NOTES.md, "ListObjectsV2 paging"); keys
    /// and prefixes interleave in order.
    func testV2DelimiterCommonPrefixesNeverRepeatAcrossPages() async throws {
        var keys: [String] = []
        for d in 0..<6 { for f in 0..<5 { keys.append("dir\(d)/sub\(f % 2)/f\(f)") } }
        keys += ["a-top", "dir2", "dir3.txt", "zz"]
        try await withKeys(keys) { client in
            let expected = ["a-top", "dir0/", "dir1/", "dir2", "dir2/", "dir3.txt", "dir3/", "dir4/", "dir5/", "zz"]
            for maxKeys in [1, 2, 3, 4, 1000] {
                let pages = try await walkV2(client, maxKeys: maxKeys, extra: [("delimiter", "/")])
                let prefixes = pages.flatMap(\.prefixes)
                let entries = pages.flatMap { $0.keys + $0.prefixes }
                XCTAssertEqual(Set(prefixes).count, prefixes.count, "max-keys \(maxKeys): \(prefixes)")
                XCTAssertEqual(Self.sorted(entries), expected, "max-keys \(maxKeys)")
                XCTAssertEqual(entries.count, expected.count, "max-keys \(maxKeys)")
            }
            // Nested: under dir1/ the common prefixes are dir1/sub0/ and dir1/sub1/.
            let nested = try await walkV2(client, maxKeys: 1, extra: [("delimiter", "/"), ("prefix", "dir1/")])
            XCTAssertEqual(nested.flatMap(\.prefixes), ["dir1/sub0/", "dir1/sub1/"])
        }
    }

    /// fetch-owner=true adds Owner (ID, DisplayName) to each Contents; v2 leaves it out by
    /// default and with fetch-owner=false.
    func testV2FetchOwnerControlsOwner() async throws {
        try await withKeys(["a", "b"]) { client in
            let with = try await list(client, [("list-type", "2"), ("fetch-owner", "true")])
            XCTAssertEqual(with.texts("Contents", "Owner", "DisplayName"), [S3TestServer.accessKey, S3TestServer.accessKey])
            XCTAssertEqual(with.texts("Contents", "Owner", "ID").filter { !$0.isEmpty }.count, 2)
            for query: [(name: String, value: String?)] in [[("list-type", "2"), ("fetch-owner", "false")], [("list-type", "2")]] {
                let without = try await list(client, query)
                XCTAssertEqual(without.texts("Contents", "Key"), ["a", "b"])
                XCTAssertEqual(without.nodes(["Contents", "Owner"]).count, 0)
            }
        }
    }

    /// max-keys=0: no keys, no common prefixes, IsTruncated false, KeyCount 0, no token
    /// (docs/S3-NOTES.md, "ListObjectsV2 paging"). The same for v1.
    func testMaxKeysZeroReturnsNothingAndIsNotTruncated() async throws {
        try await withKeys(["a", "b/c"]) { client in
            let v2 = try await list(client, [("list-type", "2"), ("max-keys", "0"), ("delimiter", "/")])
            XCTAssertEqual(v2.nodes(["Contents"]).count, 0)
            XCTAssertEqual(v2.nodes(["CommonPrefixes"]).count, 0)
            XCTAssertEqual(v2.text("IsTruncated"), "false")
            XCTAssertEqual(v2.text("KeyCount"), "0")
            XCTAssertEqual(v2.text("MaxKeys"), "0")
            XCTAssertNil(v2.text("NextContinuationToken"))
            let v1 = try await list(client, [("max-keys", "0")])
            XCTAssertEqual(v1.nodes(["Contents"]).count, 0)
            XCTAssertEqual(v1.text("IsTruncated"), "false")
            XCTAssertNil(v1.text("NextMarker"))
        }
    }

    /// KeyCount counts keys and common prefixes together.
    func testV2KeyCountCountsKeysAndCommonPrefixes() async throws {
        try await withKeys(["a", "b/1", "b/2", "c/1", "d"]) { client in
            let xml = try await list(client, [("list-type", "2"), ("delimiter", "/")])
            XCTAssertEqual(xml.texts("Contents", "Key"), ["a", "d"])
            XCTAssertEqual(xml.texts("CommonPrefixes", "Prefix"), ["b/", "c/"])
            XCTAssertEqual(xml.text("KeyCount"), "4")
        }
    }

    /// A malformed continuation token is 400 InvalidArgument; a negative or non-numeric
    /// max-keys is 400 InvalidArgument; an encoding-type other than url is 400.
    func testV2InvalidParametersAre400InvalidArgument() async throws {
        try await withKeys(["a"]) { client in
            for query: [(name: String, value: String?)] in [
                [("list-type", "2"), ("continuation-token", "!!!not-a-token")],
                [("list-type", "2"), ("max-keys", "-1")],
                [("list-type", "2"), ("max-keys", "ten")],
                [("list-type", "2"), ("encoding-type", "base64")],
            ] {
                let response = try await client.call("GET", "/bkt", query: query)
                XCTAssertEqual(response.status, 400, "\(query)")
                XCTAssertEqual(response.errorCode, "InvalidArgument", "\(query)")
            }
        }
    }

    // MARK: encoding and escaping

    /// Decodes an `encoding-type=url` value the way botocore does (`unquote_plus`).
    static func urlDecode(_ text: String) -> String? {
        S3Request.percentDecode(Substring(text), plusAsSpace: true)
    }

    /// encoding-type=url: Key, Prefix, Delimiter, StartAfter and CommonPrefixes are
    /// URL-encoded (docs/S3-NOTES.md, "Listing XML and encoding-type=url"), with
    /// EncodingType echoed; each decodes to the original.
    func testEncodingTypeURLEncodesKeysPrefixesDelimiterAndStartAfter() async throws {
        let keys = ["a b/c+d&e", "a b/x&y/z", "a b/ü ñ.txt", "a b/tab\there", "a b/%41"]
        try await withKeys(keys) { client in
            let xml = try await list(client, [("list-type", "2"), ("encoding-type", "url"), ("prefix", "a b/"),
                                              ("delimiter", "&"), ("start-after", "a b/")])
            XCTAssertEqual(xml.text("EncodingType"), "url")
            let raw = xml.texts("Contents", "Key") + xml.texts("CommonPrefixes", "Prefix")
                + [xml.text("Prefix"), xml.text("Delimiter"), xml.text("StartAfter")].compactMap { $0 }
            let safe = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/%+")
            for value in raw {
                XCTAssertTrue(value.unicodeScalars.allSatisfy { safe.contains($0) }, "not encoded: \(value)")
            }
            XCTAssertEqual(xml.text("Prefix").flatMap(Self.urlDecode), "a b/")
            XCTAssertEqual(xml.text("Delimiter").flatMap(Self.urlDecode), "&")
            XCTAssertEqual(xml.text("StartAfter").flatMap(Self.urlDecode), "a b/")
            XCTAssertEqual(xml.texts("Contents", "Key").compactMap(Self.urlDecode),
                           ["a b/%41", "a b/tab\there", "a b/ü ñ.txt"])
            XCTAssertEqual(xml.texts("CommonPrefixes", "Prefix").compactMap(Self.urlDecode), ["a b/c+d&", "a b/x&"])

            // v1 also encodes Marker and NextMarker.
            let v1 = try await list(client, [("encoding-type", "url"), ("marker", "a b/%41"), ("max-keys", "1")])
            XCTAssertEqual(v1.text("EncodingType"), "url")
            XCTAssertEqual(v1.text("Marker").flatMap(Self.urlDecode), "a b/%41")
            XCTAssertEqual(v1.texts("Contents", "Key").compactMap(Self.urlDecode), ["a b/c+d&e"])
            XCTAssertEqual(v1.text("NextMarker").flatMap(Self.urlDecode), "a b/c+d&e")
            XCTAssertFalse(v1.text("Marker")?.contains(" ") ?? true)
        }
    }

    /// ListObjects (v1) under encoding-type=url returns the top-level Prefix as sent, not
    /// encoded, as S3 does (botocore decodes v1's Delimiter, Marker and NextMarker, not
    /// its Prefix); its keys and common prefixes are encoded as in v2.
    func testV1TopLevelPrefixIsReturnedAsSentUnderEncodingTypeURL() async throws {
        try await withKeys(["a b/ü 1", "a b/ü 2/x"]) { client in
            let v1 = try await list(client, [("encoding-type", "url"), ("prefix", "a b/ü"), ("delimiter", "/")])
            XCTAssertEqual(v1.text("Prefix"), "a b/ü")
            XCTAssertEqual(v1.texts("Contents", "Key").compactMap(Self.urlDecode), ["a b/ü 1"])
            XCTAssertFalse(v1.texts("Contents", "Key")[0].contains(" "), "keys stay encoded")
            XCTAssertEqual(v1.texts("CommonPrefixes", "Prefix").compactMap(Self.urlDecode), ["a b/ü 2/"])
            let v2 = try await list(client, [("list-type", "2"), ("encoding-type", "url"), ("prefix", "a b/ü")])
            XCTAssertNotEqual(v2.text("Prefix"), "a b/ü", "v2 encodes its Prefix")
            XCTAssertEqual(v2.text("Prefix").flatMap(Self.urlDecode), "a b/ü")
        }
    }

    /// Keys with XML special characters (&, <, >, quotes) are escaped in listings, so the
    /// document parses and gives back the exact keys, in UTF-8 byte order.
    func testKeysWithXMLSpecialCharactersAreEscaped() async throws {
        let keys = ["a&b", "<tag>", "quote\"s", "it's", "gt>lt<", "B-upper", "é-accent", "z"]
        try await withKeys(keys) { client in
            let response = try await client.call("GET", "/bkt", query: [("list-type", "2")])
            XCTAssertEqual(response.status, 200)
            XCTAssertTrue(response.bodyString.contains("<Key>a&amp;b</Key>"), response.bodyString)
            XCTAssertTrue(response.bodyString.contains("&lt;tag&gt;"), response.bodyString)
            XCTAssertEqual(try response.xml().texts("Contents", "Key"), Self.sorted(keys))
            let v1 = try await list(client, [("prefix", "a&"), ("delimiter", "<")])
            XCTAssertEqual(v1.text("Prefix"), "a&")
            XCTAssertEqual(v1.text("Delimiter"), "<")
            XCTAssertEqual(v1.texts("Contents", "Key"), ["a&b"])
        }
    }

    /// Listing a bucket that does not exist: 404 NoSuchBucket, v1 and v2.
    func testListingMissingBucketIsNoSuchBucket() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            for query: [(name: String, value: String?)] in [[], [("list-type", "2")]] {
                let response = try await client.call("GET", "/no-such-bucket", query: query)
                XCTAssertEqual(response.status, 404)
                XCTAssertEqual(response.errorCode, "NoSuchBucket")
            }
        }
    }
}
