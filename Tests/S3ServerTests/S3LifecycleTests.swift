import Foundation
import XCTest
import ObjectStore
@testable import S3Server

/// Bucket lifecycle configuration (the AbortIncompleteMultipartUpload part) and the
/// sweeper that aborts abandoned uploads, with its clock moved forward by the test.
final class S3LifecycleTests: XCTestCase {
    static func lifecycle(_ rules: String) -> [UInt8] {
        bytes(#"<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"# + rules + "</LifecycleConfiguration>")
    }

    static func abortRule(prefix: String, days: Int, status: String = "Enabled") -> String {
        "<Rule><ID>abort-\(prefix)</ID><Filter><Prefix>\(prefix)</Prefix></Filter><Status>\(status)</Status>"
            + "<AbortIncompleteMultipartUpload><DaysAfterInitiation>\(days)</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>"
    }

    /// Put/Get/DeleteBucketLifecycleConfiguration round trip; GET without one is 404
    /// NoSuchLifecycleConfiguration, as S3 answers.
    func testLifecycleConfigurationRoundTrip() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("life")
            let missing = try await client.expect(404, "GET", "/life", query: [("lifecycle", nil)])
            XCTAssertEqual(missing.errorCode, "NoSuchLifecycleConfiguration")
            let document = Self.lifecycle(Self.abortRule(prefix: "tmp/", days: 2))
            try await client.expect(200, "PUT", "/life", query: [("lifecycle", nil)], body: document)
            let got = try await client.expect(200, "GET", "/life", query: [("lifecycle", nil)])
            XCTAssertEqual(try got.xml().texts("Rule", "AbortIncompleteMultipartUpload", "DaysAfterInitiation"), ["2"])
            try await client.expect(204, "DELETE", "/life", query: [("lifecycle", nil)])
            try await client.expect(404, "GET", "/life", query: [("lifecycle", nil)])
        }
    }

    /// Invalid documents change nothing: MalformedXML, InvalidArgument for a bad day
    /// count, and NotImplemented for actions Strata does not enforce yet.
    func testInvalidLifecycleConfigurationsAreRefused() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("life")
            let cases: [(String, [UInt8], String)] = [
                ("malformed", bytes("<LifecycleConfiguration><Rule>"), "MalformedXML"),
                ("no rules", Self.lifecycle(""), "MalformedXML"),
                ("bad status", Self.lifecycle(Self.abortRule(prefix: "", days: 1, status: "On")), "MalformedXML"),
                ("zero days", Self.lifecycle(Self.abortRule(prefix: "", days: 0)), "InvalidArgument"),
                ("transition", Self.lifecycle("<Rule><Filter/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>"), "NotImplemented"),
            ]
            for (name, document, code) in cases {
                let response = try await client.call("PUT", "/life", query: [("lifecycle", nil)], body: document)
                XCTAssertEqual(response.errorCode, code, name)
            }
            try await client.expect(404, "GET", "/life", query: [("lifecycle", nil)])
        }
    }

    /// The sweeper aborts uploads older than the default age, and a bucket rule sets a
    /// shorter age for its prefix; uploads it aborts are gone (NoSuchUpload).
    func testSweeperAbortsAbandonedUploadsByDefaultAgeAndLifecycleRule() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("sweep")
            try await client.expect(200, "PUT", "/sweep", query: [("lifecycle", nil)],
                                    body: Self.lifecycle(Self.abortRule(prefix: "tmp/", days: 1)))
            let store = server.store
            let short = try await store.createUpload(bucket: "sweep", key: "tmp/a", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
            let long = try await store.createUpload(bucket: "sweep", key: "keep/b", metadata: [:], checksumAlgorithm: nil, checksumType: nil)
            let sweeper = LifecycleWorker(store: store, defaultUploadMaxAge: 7 * 86_400_000, logger: .init(label: "test"))
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            await assertEqual(try await sweeper.pass(now: now).abortedUploads.count, 0)
            // Two days later: the rule's one day has passed for tmp/, the default week has not.
            await assertEqual(try await sweeper.pass(now: now + 2 * 86_400_000).abortedUploads.map(\.uploadId), [short.uploadId])
            // Eight days later the default catches the other one.
            await assertEqual(try await sweeper.pass(now: now + 8 * 86_400_000).abortedUploads.map(\.uploadId), [long.uploadId])
            for upload in [short, long] {
                do {
                    _ = try await store.upload(bucket: "sweep", key: upload.key, uploadId: upload.uploadId)
                    XCTFail("upload \(upload.key) should be aborted")
                } catch let error as StoreError {
                    XCTAssertEqual(error.code, .noSuchUpload)
                }
            }
            await assertEqual(try await store.allUploads().count, 0)
        }
    }

    // MARK: - Expiration and filters

    static func rule(_ body: String, id: String = "r", status: String = "Enabled") -> String {
        "<Rule><ID>\(id)</ID>\(body)<Status>\(status)</Status></Rule>"
    }

    static func parseCode(_ rules: String) -> String? {
        do {
            _ = try LifecycleConfiguration.parse(lifecycle(rules))
            return nil
        } catch let error as S3Error {
            return error.code
        } catch {
            return "\(error)"
        }
    }

    func testLifecycleParsingOfActionsAndFilters() throws {
        let config = try LifecycleConfiguration.parse(Self.lifecycle(
            Self.rule("<Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>"
                      + "<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter>"
                      + "<Expiration><Days>3</Days></Expiration>", id: "a")
            + Self.rule("<Prefix>old/</Prefix><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>", id: "b")
            + Self.rule("<Filter><Tag><Key>t</Key><Value>1</Value></Tag></Filter>"
                        + "<NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>", id: "c")
            + Self.rule("<Filter/><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
                        + "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>", id: "d")))
        XCTAssertEqual(config.rules.map(\.id), ["a", "b", "c", "d"])
        XCTAssertEqual(config.rules[0].filter, .init(prefix: "logs/", tags: ["k": "v"], sizeGreaterThan: 10, sizeLessThan: 100))
        XCTAssertEqual(config.rules[0].expirationDays, 3)
        XCTAssertEqual(config.rules[1].filter.prefix, "old/")
        XCTAssertEqual(config.rules[1].expirationDate, 1_893_456_000_000)
        XCTAssertEqual(config.rules[2].noncurrentDays, 2)
        XCTAssertEqual(config.rules[2].newerNoncurrentVersions, 3)
        XCTAssertTrue(config.rules[3].expiredObjectDeleteMarker)
        XCTAssertEqual(config.rules[3].abortIncompleteUploadDays, 1)
        XCTAssertTrue(config.rules[0].filter.matches(key: "logs/a", size: 50, tags: ["k": "v", "x": "y"]))
        XCTAssertFalse(config.rules[0].filter.matches(key: "logs/a", size: 50, tags: ["k": "w"]))
        XCTAssertFalse(config.rules[0].filter.matches(key: "logs/a", size: 100, tags: ["k": "v"]))
        XCTAssertFalse(config.rules[0].filter.matches(key: "logs/a", size: 10, tags: ["k": "v"]))
        XCTAssertFalse(config.rules[0].filter.matches(key: "other", size: 50, tags: ["k": "v"]))
    }

    /// S3's answers to invalid lifecycle documents.
    func testLifecycleValidationErrorsAsS3Gives() {
        let days = "<Expiration><Days>1</Days></Expiration>"
        let cases: [(String, String, String)] = [
            ("no filter nor prefix", "<Rule><ID>x</ID><Status>Enabled</Status>\(days)</Rule>", "MalformedXML"),
            ("filter and prefix", Self.rule("<Prefix>a</Prefix><Filter><Prefix>a</Prefix></Filter>" + days), "MalformedXML"),
            ("two filter conditions", Self.rule("<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>" + days), "MalformedXML"),
            ("zero days", Self.rule("<Filter/><Expiration><Days>0</Days></Expiration>"), "InvalidArgument"),
            ("negative days", Self.rule("<Filter/><Expiration><Days>-1</Days></Expiration>"), "InvalidArgument"),
            ("date not at midnight", Self.rule("<Filter/><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>"), "InvalidArgument"),
            ("bad date", Self.rule("<Filter/><Expiration><Date>tomorrow</Date></Expiration>"), "InvalidArgument"),
            ("days and date", Self.rule("<Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>"), "MalformedXML"),
            ("marker with days", Self.rule("<Filter/><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"), "MalformedXML"),
            ("marker with tag filter", Self.rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"), "InvalidRequest"),
            ("abort with tag filter", Self.rule("<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"), "InvalidRequest"),
            ("no action", Self.rule("<Filter/>"), "InvalidRequest"),
            ("noncurrent zero", Self.rule("<Filter/><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"), "InvalidArgument"),
            ("newer noncurrent 101", Self.rule("<Filter/><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>"), "InvalidArgument"),
            ("sizes inverted", Self.rule("<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter>" + days), "InvalidArgument"),
            ("duplicate ids", Self.rule("<Filter/>" + days) + Self.rule("<Filter/>" + days), "InvalidArgument"),
            ("bad tag in filter", Self.rule("<Filter><Tag><Key>aws:x</Key><Value>v</Value></Tag></Filter>" + days), "InvalidTag"),
            ("unknown element", Self.rule("<Filter/><Bogus/>" + days), "MalformedXML"),
            ("noncurrent transition", Self.rule("<Filter/><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>"), "NotImplemented"),
            // A malformed Transition gets S3's 4xx, not the NotImplemented of a valid one.
            ("transition date not at midnight", Self.rule("<Filter/><Transition><Date>2030-01-01T10:00:00Z</Date><StorageClass>GLACIER</StorageClass></Transition>"), "InvalidArgument"),
            ("transition bad date", Self.rule("<Filter/><Transition><Date>someday</Date><StorageClass>GLACIER</StorageClass></Transition>"), "InvalidArgument"),
            ("transition negative days", Self.rule("<Filter/><Transition><Days>-1</Days><StorageClass>GLACIER</StorageClass></Transition>"), "InvalidArgument"),
            ("transition days and date", Self.rule("<Filter/><Transition><Days>1</Days><Date>2030-01-01T00:00:00Z</Date><StorageClass>GLACIER</StorageClass></Transition>"), "MalformedXML"),
            ("transition unknown storage class", Self.rule("<Filter/><Transition><Days>1</Days><StorageClass>TAPE</StorageClass></Transition>"), "MalformedXML"),
            ("transition without storage class", Self.rule("<Filter/><Transition><Days>1</Days></Transition>"), "MalformedXML"),
            ("noncurrent transition without days", Self.rule("<Filter/><NoncurrentVersionTransition><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>"), "MalformedXML"),
            ("valid transition, bad expiration", Self.rule("<Filter/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>0</Days></Expiration>"), "InvalidArgument"),
        ]
        for (name, rules, code) in cases {
            XCTAssertEqual(Self.parseCode(rules), code, name)
        }
    }

    /// S3 assigns an ID to a rule sent without one, and GetBucketLifecycleConfiguration
    /// returns it; rules with IDs keep them, and the document otherwise reads the same.
    func testRulesWithoutIDGetAGeneratedIDThatGETReturns() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("life")
            let rules = "<Rule><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>"
                + Self.abortRule(prefix: "tmp/", days: 2)
            try await client.expect(200, "PUT", "/life", query: [("lifecycle", nil)], body: Self.lifecycle(rules))
            let got = try await client.expect(200, "GET", "/life", query: [("lifecycle", nil)]).xml()
            let ids = got.texts("Rule", "ID")
            guard ids.count == 2 else { return XCTFail("every rule has an ID: \(ids)") }
            XCTAssertEqual(ids[0].count, 48, "S3's generated IDs are 48 characters: \(ids[0])")
            XCTAssertEqual(ids[1], "abort-tmp/")
            XCTAssertEqual(got.texts("Rule", "Filter", "Prefix"), ["a/", "tmp/"])
            XCTAssertEqual(got.texts("Rule", "Expiration", "Days"), ["3"])
            // The generated ID is the one x-amz-expiration names.
            try await client.put("life", "a/x", bytes("x"))
            let head = try await client.expect(200, "HEAD", "/life/a/x")
            XCTAssertTrue(head.header("x-amz-expiration")?.contains("rule-id=\"\(ids[0])\"") == true, head.header("x-amz-expiration") ?? "none")
            // Each PUT without IDs generates new ones.
            try await client.expect(200, "PUT", "/life", query: [("lifecycle", nil)], body: Self.lifecycle(rules))
            let again = try await client.expect(200, "GET", "/life", query: [("lifecycle", nil)]).xml()
            XCTAssertNotEqual(again.texts("Rule", "ID")[0], ids[0])
        }
    }

    /// S3 counts Expiration Days from last-modified and rounds up to the next midnight
    /// UTC; a shortened lifecycle day rounds to multiples of itself.
    func testLifecycleClockRoundsUpToTheNextMidnight() {
        let clock = LifecycleClock()
        let noon = Int64(1_700_000_000_000) / 86_400_000 * 86_400_000 + 43_200_000
        XCTAssertEqual(clock.due(from: noon, days: 1), noon - 43_200_000 + 2 * 86_400_000)
        XCTAssertEqual(clock.due(from: noon - 43_200_000, days: 1), noon - 43_200_000 + 86_400_000, "already at midnight")
        let fast = LifecycleClock(dayMilliseconds: 2000)
        XCTAssertEqual(fast.due(from: 10_500, days: 3), 18_000)
    }

    /// The worker expires current objects by prefix, tag, size and date with a fake
    /// clock, and leaves everything else; an object overwritten after the pass looked is
    /// judged again (by its new last-modified).
    func testWorkerExpiresObjectsByPrefixTagSizeAndDate() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("exp")
            try await client.createBucket("other")
            let rules = Self.rule("<Filter><Prefix>tmp/</Prefix></Filter><Expiration><Days>1</Days></Expiration>", id: "tmp")
                + Self.rule("<Filter><Tag><Key>class</Key><Value>scratch</Value></Tag></Filter><Expiration><Days>2</Days></Expiration>", id: "tag")
                + Self.rule("<Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter><Expiration><Days>5</Days></Expiration>", id: "big")
                + Self.rule("<Filter><Prefix>dated/</Prefix></Filter><Expiration><Date>2031-06-01T00:00:00Z</Date></Expiration>", id: "date")
                + Self.rule("<Filter><Prefix>off/</Prefix></Filter><Expiration><Days>1</Days></Expiration>", id: "off", status: "Disabled")
            try await client.expect(200, "PUT", "/exp", query: [("lifecycle", nil)], body: Self.lifecycle(rules))
            try await client.put("exp", "tmp/a", bytes("a"))
            try await client.put("exp", "keep/b", bytes("b"))
            try await client.put("exp", "keep/tagged", bytes("c"), headers: [("x-amz-tagging", "class=scratch")])
            try await client.put("exp", "keep/other-tag", bytes("d"), headers: [("x-amz-tagging", "class=gold")])
            try await client.put("exp", "keep/big", [UInt8](repeating: 1, count: 200))
            try await client.put("exp", "dated/x", bytes("e"))
            try await client.put("exp", "off/x", bytes("f"))
            try await client.put("other", "tmp/a", bytes("g"))
            let store = server.store
            let worker = LifecycleWorker(store: store, defaultUploadMaxAge: 365 * 86_400_000, logger: .init(label: "test"))
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let day: Int64 = 86_400_000
            await assertEqual(try await worker.pass(now: now).expiredObjects, [])
            await assertEqual(try await worker.pass(now: now + 2 * day).expiredObjects, ["exp/tmp/a"])
            // Retagging into the rule's scope counts from last-modified, which tagging keeps.
            try await client.expect(200, "PUT", "/exp/keep/other-tag", query: [("tagging", nil)],
                                    body: S3TaggingTests.tagging([("class", "scratch")]))
            await assertEqual(try await worker.pass(now: now + 3 * day).expiredObjects.sorted(), ["exp/keep/other-tag", "exp/keep/tagged"])
            await assertEqual(try await worker.pass(now: now + 6 * day).expiredObjects, ["exp/keep/big"])
            let june2031: Int64 = 1_938_038_400_000
            await assertEqual(try await worker.pass(now: max(june2031, now + 7 * day)).expiredObjects, ["exp/dated/x"])
            for key in ["keep/b", "off/x"] { try await client.expect(200, "HEAD", "/exp/\(key)") }
            for key in ["tmp/a", "keep/tagged", "keep/big", "dated/x"] { try await client.expect(404, "HEAD", "/exp/\(key)") }
            try await client.expect(200, "HEAD", "/other/tmp/a", message: "a bucket without rules keeps everything")
        }
    }

    /// In a versioned bucket (S3's rules): Expiration puts a delete marker in front,
    /// NoncurrentVersionExpiration removes versions NoncurrentDays after they stopped
    /// being current, keeping NewerNoncurrentVersions, and ExpiredObjectDeleteMarker
    /// removes a marker once nothing stands behind it.
    func testWorkerOnAVersionedBucket() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("ver")
            try await client.expect(200, "PUT", "/ver", query: [("versioning", nil)],
                                    body: bytes("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"))
            let rules = Self.rule("<Filter><Prefix>cur/</Prefix></Filter><Expiration><Days>1</Days></Expiration>", id: "current")
                + Self.rule("<Filter><Prefix>old/</Prefix></Filter><NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays>"
                            + "<NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration>", id: "history")
                + Self.rule("<Filter><Prefix>gone/</Prefix></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
                            + "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>", id: "markers")
                + Self.rule("<Filter><Prefix>gone/up</Prefix></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload>", id: "abort")
            try await client.expect(200, "PUT", "/ver", query: [("lifecycle", nil)], body: Self.lifecycle(rules))
            try await client.put("ver", "cur/a", bytes("a"))
            for n in 1...3 { try await client.put("ver", "old/k", bytes("v\(n)")) }
            try await client.put("ver", "gone/x", bytes("x"))
            try await client.expect(204, "DELETE", "/ver/gone/x")
            let worker = LifecycleWorker(store: server.store, defaultUploadMaxAge: 365 * 86_400_000, logger: .init(label: "test"))
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let day: Int64 = 86_400_000
            func versions(_ key: String) async throws -> [ObjectInfo] { try await server.store.versions(bucket: "ver", key: key) }

            let first = try await worker.pass(now: now + 2 * day)
            XCTAssertEqual(first.expiredObjects, ["ver/cur/a"])
            let current = try await versions("cur/a")
            XCTAssertEqual(current.map(\.isDeleteMarker), [true, false], "expiration in a versioned bucket adds a delete marker")
            // gone/x: its only version went noncurrent a day ago; then the marker is alone.
            let markerOnly = try await versions("gone/x").map(\.isDeleteMarker)
            XCTAssertEqual(markerOnly, [true], "the noncurrent version went after a day")
            let history = try await versions("old/k").count
            XCTAssertEqual(history, 3, "NoncurrentDays 2 are not over yet (they end at the midnight after)")
            let second = try await worker.pass(now: now + 3 * day)
            let gone = try await versions("gone/x").count
            XCTAssertEqual(gone, 0, "the expired delete marker is removed")
            let kept = try await versions("old/k").count
            XCTAssertEqual(kept, 2, "v1 goes; v2 is the one newer noncurrent version kept")
            XCTAssertGreaterThanOrEqual(second.expiredHistory, 2)
            await assertEqual(try await client.expect(200, "GET", "/ver/old/k").body, bytes("v3"))
            // cur/a: its version went noncurrent two days ago but no noncurrent rule covers
            // cur/; once it is deleted for good, the Expiration Days rule removes the
            // marker left alone ("automatically performs ExpiredObjectDeleteMarker cleanup").
            let behind = try await versions("cur/a")
            try await client.expect(204, "DELETE", "/ver/cur/a", query: [("versionId", behind[1].versionID)])
            _ = try await worker.pass(now: now + 4 * day)
            let cleaned = try await versions("cur/a").count
            XCTAssertEqual(cleaned, 0)
            // AbortIncompleteMultipartUpload: the upload's answers say when it will go.
            let upload = try await client.expect(200, "POST", "/ver/gone/upload", query: [("uploads", nil)])
            XCTAssertNotNil(upload.header("x-amz-abort-date"))
            XCTAssertEqual(upload.header("x-amz-abort-rule-id"), "abort")
        }
    }

    /// The worker deletes only the version it judged: a conditional delete on the
    /// commit's sequence, so a newer PUT of the same key is not expired with the old one.
    func testExpiryIsConditionalOnTheVersionJudged() async throws {
        try await S3TestServer.with { server in
            let store = server.store
            try await store.createBucket("bkt")
            let old = try await store.putObject(bucket: "bkt", key: "k", data: [1])
            try await store.putObject(bucket: "bkt", key: "k", data: [2])
            await assertEqual(try await store.deleteObject(bucket: "bkt", key: "k", ifCurrentSequence: old.sequence).wroteRecord, false)
            let current = try await store.headObject(bucket: "bkt", key: "k")
            XCTAssertNotEqual(current.etag, old.etag, "the newer version is still there")
        }
    }

    /// S3 sends `x-amz-expiration: expiry-date="…", rule-id="…"` on PUT, GET and HEAD of
    /// an object an Expiration rule will expire; none for other objects, and none once
    /// the configuration is deleted.
    func testExpirationHeaderOnPutGetHead() async throws {
        try await S3TestServer.with { server in
            let client = S3TestClient(server)
            try await client.createBucket("hdr")
            let rules = Self.rule("<Filter><Prefix>tmp/</Prefix></Filter><Expiration><Days>1</Days></Expiration>", id: "tmp-rule")
                + Self.rule("<Filter><Tag><Key>t</Key><Value>1</Value></Tag></Filter><Expiration><Date>2031-06-01T00:00:00Z</Date></Expiration>", id: "dated")
            try await client.put("hdr", "before", bytes("x"))
            await assertEqual(try await client.expect(200, "HEAD", "/hdr/before").header("x-amz-expiration"), nil)
            try await client.expect(200, "PUT", "/hdr", query: [("lifecycle", nil)], body: Self.lifecycle(rules))
            let put = try await client.put("hdr", "tmp/a", bytes("a"))
            let head = try await client.expect(200, "HEAD", "/hdr/tmp/a")
            let lastModified = parseHTTPDate(head.header("Last-Modified")!)!
            let day = 86_400.0
            let expected = (floor(lastModified.timeIntervalSince1970 / day) + 2) * day  // +1 day, then up to midnight
            let value = "expiry-date=\"\(httpDate(Date(timeIntervalSince1970: expected)))\", rule-id=\"tmp-rule\""
            XCTAssertEqual(put.header("x-amz-expiration"), value)
            XCTAssertEqual(head.header("x-amz-expiration"), value)
            await assertEqual(try await client.expect(200, "GET", "/hdr/tmp/a").header("x-amz-expiration"), value)
            await assertEqual(try await client.expect(200, "HEAD", "/hdr/before").header("x-amz-expiration"), nil)
            try await client.put("hdr", "tagged", bytes("t"), headers: [("x-amz-tagging", "t=1")])
            await assertEqual(try await client.expect(200, "HEAD", "/hdr/tagged").header("x-amz-expiration"),
                              "expiry-date=\"Sun, 01 Jun 2031 00:00:00 GMT\", rule-id=\"dated\"")
            try await client.expect(204, "DELETE", "/hdr", query: [("lifecycle", nil)])
            await assertEqual(try await client.expect(200, "HEAD", "/hdr/tmp/a").header("x-amz-expiration"), nil)
        }
    }
}

/// XCTAssertEqual cannot await.
func assertEqual<T: Equatable>(_ a: @autoclosure () async throws -> T, _ b: T,
                               file: StaticString = #filePath, line: UInt = #line) async {
    do {
        let value = try await a()
        XCTAssertEqual(value, b, file: file, line: line)
    } catch {
        XCTFail("\(error)", file: file, line: line)
    }
}
