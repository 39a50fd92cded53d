import ObjectIndex
import XCTest
@testable import ObjectStore

/// The pending state on its own: what commits written and not yet applied tell the
/// preconditions of later commits, and how applying each one clears only its own part.
final class PendingCommitsTests: XCTestCase {
    private func object(_ key: String, version: String = "", sequence: UInt64) -> ObjectInfo {
        var info = ObjectInfo(bucket: "b", key: key, versionID: version, size: 1, lastModified: 0, etag: "e", extents: [])
        info.sequence = sequence
        return info
    }

    /// Pends a commit as the journal does, with what its builder decided.
    private func pend(_ pending: inout PendingCommits, _ built: Journal.Built, sequence: UInt64) {
        built.commit.kind.pend(&pending, sequence: sequence, decided: built)
    }

    private func settle(_ pending: inout PendingCommits, _ commit: Commit, sequence: UInt64) -> CacheEffect {
        commit.kind.settle(&pending, sequence: sequence)
    }

    func testAPendingPutIsSeenUntilItsOwnCommitIsApplied() {
        var pending = PendingCommits()
        let put = Journal.Built(commit: .putObject(PutObjectCommit(object("k", sequence: 0))), object: object("k", sequence: 5))
        pend(&pending, put, sequence: 5)
        guard case .pending(let seen?) = pending.object(bucket: "b", key: "k") else { return XCTFail("not pending") }
        XCTAssertEqual(seen.sequence, 5)
        guard case .askIndex = pending.object(bucket: "b", key: "other") else { return XCTFail("another key is not pending") }
        guard case .object(let name) = settle(&pending, put.commit, sequence: 5) else { return XCTFail("names the object") }
        XCTAssertEqual(name, ObjectCache.Name(bucket: "b", key: "k"))
        XCTAssertTrue(pending.isEmpty)
    }

    func testApplyingAnOlderCommitKeepsTheNewerPendingOne() {
        var pending = PendingCommits()
        let first = Journal.Built(commit: .putObject(PutObjectCommit(object("k", sequence: 0))), object: object("k", sequence: 5))
        let delete = Journal.Built(commit: .deleteObject(DeleteObjectCommit(Payload.DeleteEntry(bucket: "b", key: "k", versionID: "", time: 0))))
        pend(&pending, first, sequence: 5)
        pend(&pending, delete, sequence: 6)
        _ = settle(&pending, first.commit, sequence: 5)
        guard case .pending(nil) = pending.object(bucket: "b", key: "k") else { return XCTFail("the delete is still pending") }
        _ = settle(&pending, delete.commit, sequence: 6)
        XCTAssertTrue(pending.isEmpty)
    }

    func testVersionChangesAddUpOnTopOfTheIndex() {
        var pending = PendingCommits()
        let v1 = object("k", version: "v1", sequence: 0)
        let v2 = object("k", version: "v2", sequence: 0)
        pend(&pending, Journal.Built(commit: .putObject(PutObjectCommit(v1)), object: v1, versions: [.add(v1)]), sequence: 7)
        pend(&pending, Journal.Built(commit: .putObject(PutObjectCommit(v2)), object: v2, versions: [.add(v2)]), sequence: 8)
        let stored = object("k", version: "old", sequence: 3)
        let versions = pending.objects.values.first!.versions.resolve { [stored] }
        XCTAssertEqual(versions.map(\.versionID), ["v2", "v1", "old"], "newest first, each pending version numbered")
        XCTAssertEqual(versions.map(\.sequence), [8, 7, 3])
        // A versioned delete of v1 removes it by its order sequence.
        let delete = Payload.DeleteEntry(bucket: "b", key: "k", versionID: "v1", time: 0, targetSequence: 7)
        pend(&pending, Journal.Built(commit: .deleteObject(DeleteObjectCommit(delete)), versions: [.remove(order: 7)]), sequence: 9)
        XCTAssertEqual(pending.objects.values.first!.versions.resolve { [stored] }.map(\.versionID), ["v2", "old"])
    }

    func testExactVersionsAbsorbLaterChanges() {
        let a = object("k", sequence: 2)
        let after = VersionsAfter.exactly([a]).then(.indexPlus([.removeNull]))
        XCTAssertEqual(after, .exactly([]), "an unversioned put, then a null delete: nothing left, no index read needed")
        XCTAssertEqual(VersionsAfter.indexPlus([.removeNull]).then(.exactly([a])), .exactly([a]))
    }

    func testAPendingBucketCreateHidesOlderConfigurations() {
        var pending = PendingCommits()
        let config = BucketConfigCommit(bucket: "b", name: .versioning, document: Array("Enabled".utf8))
        pend(&pending, Journal.Built(commit: .bucketConfig(config)), sequence: 3)
        guard case .pending(let doc?) = pending.config(bucket: "b", name: .versioning) else { return XCTFail("pending document") }
        XCTAssertEqual(doc, Array("Enabled".utf8))
        // Deleted and re-created after the document: the new bucket has no configuration.
        pend(&pending, Journal.Built(commit: .deleteBucket(DeleteBucketCommit(name: "b"))), sequence: 4)
        pend(&pending, Journal.Built(commit: .createBucket(CreateBucketCommit(BucketInfo(name: "b", created: 0)))), sequence: 5)
        guard case .pending(nil) = pending.config(bucket: "b", name: .versioning) else { return XCTFail("dropped by the re-create") }
        guard case .pending(nil) = pending.config(bucket: "b", name: .lifecycle) else {
            return XCTFail("a pending create is newer than any stored document")
        }
        guard case .pending(true) = pending.bucketExists("b") else { return XCTFail("re-created") }
        XCTAssertEqual(settle(&pending, .deleteBucket(DeleteBucketCommit(name: "b")), sequence: 4).isEverything, true,
                       "a bucket delete drops every cached object")
        guard case .pending(true) = pending.bucketExists("b") else { return XCTFail("the re-create is still pending") }
    }

    func testUploadsOpenCloseAndABucketDeleteClosesOlderUploads() {
        var pending = PendingCommits()
        let upload = UploadInfo(bucket: "b", key: "k", uploadId: "u1", initiated: 0, metadata: [:],
                                checksumAlgorithm: nil, checksumType: nil)
        pend(&pending, Journal.Built(commit: .createUpload(CreateUploadCommit(upload))), sequence: 10)
        XCTAssertTrue(pending.uploadIsOpen("u1", bucket: "b") { nil })
        XCTAssertTrue(pending.opensUpload(inBucket: "b"))
        // An upload only the index knows, created at 4, is closed by a pending bucket delete at 11.
        XCTAssertTrue(pending.uploadIsOpen("u0", bucket: "b") { 4 })
        pend(&pending, Journal.Built(commit: .deleteBucket(DeleteBucketCommit(name: "b"))), sequence: 11)
        XCTAssertFalse(pending.uploadIsOpen("u0", bucket: "b") { 4 })
        XCTAssertFalse(pending.uploadIsOpen("u1", bucket: "b") { nil })
        pend(&pending, Journal.Built(commit: .abortUpload(AbortUploadCommit(bucket: "b", key: "k", uploadId: "u1"))), sequence: 12)
        XCTAssertTrue(pending.closed(upload: "u1"))
        _ = settle(&pending, .createUpload(CreateUploadCommit(upload)), sequence: 10)
        XCTAssertTrue(pending.closed(upload: "u1"), "the create's settle leaves the newer abort")
    }

    func testAPartIsPendingUntilItsCommitIsApplied() {
        var pending = PendingCommits()
        var part = PartInfo(partNumber: 3, size: 1, lastModified: 0, etag: "e", checksums: [:], extents: [])
        part.uploadId = "u1"
        pend(&pending, Journal.Built(commit: .putPart(PutPartCommit(part))), sequence: 20)
        guard case .pending(20) = pending.partSequence(IndexKey.part(uploadID: "u1", partNumber: 3)) else { return XCTFail("pending") }
        _ = settle(&pending, .putPart(PutPartCommit(part)), sequence: 20)
        XCTAssertTrue(pending.isEmpty)
    }

    /// Every kind a record type names decodes what it encodes, and says which entries name it.
    func testEveryCommitKindRoundTripsAndNamesItsEntries() throws {
        var part = PartInfo(partNumber: 1, size: 1, lastModified: 0, etag: "e", checksums: [:], extents: [])
        part.uploadId = "u"
        let commits: [Commit] = [
            .putObject(PutObjectCommit(object("k", sequence: 0))),
            .deleteObject(DeleteObjectCommit(Payload.DeleteEntry(bucket: "b", key: "k", versionID: "", time: 0))),
            .createBucket(CreateBucketCommit(BucketInfo(name: "b", created: 0))),
            .deleteBucket(DeleteBucketCommit(name: "b")),
            .createUpload(CreateUploadCommit(UploadInfo(bucket: "b", key: "k", uploadId: "u", initiated: 0, metadata: [:],
                                                        checksumAlgorithm: nil, checksumType: nil))),
            .putPart(PutPartCommit(part)),
            .abortUpload(AbortUploadCommit(bucket: "b", key: "k", uploadId: "u")),
            .bucketConfig(BucketConfigCommit(bucket: "b", name: .cors, document: [1, 2])),
            .reset(ResetCommit(time: 1_765_000_000_000)),
            .snapshot(SnapshotCommit(slot: 3, name: "base", time: 1_765_000_000_000)),
            .restore(RestoreCommit(name: "base", snapshotSequence: 7, snapshotSegment: 2, time: 1_765_000_000_001)),
            .deleteSnapshot(DeleteSnapshotCommit(name: "base")),
        ]
        XCTAssertEqual(Set(commits.map(\.type)), Set(Commit.kinds.map { $0.recordType }), "one of each kind")
        for commit in commits {
            let payload = commit.kind.encoded()
            XCTAssertEqual(try Commit(type: commit.type, payload: payload).kind.encoded(), payload, "\(commit.type)")
            let tables = Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.closedUpload("u")) }
                + Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.bucketPrefix("b")) }
                + Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.object(bucket: "b", key: [0x6B])) }
                + Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.storeReset) }
                + Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.restore(9)) }
                + Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.snapshot("base")) }
                + Table.allCases.filter { type(of: commit.kind).isCommitRecord(ofEntryIn: $0, key: IndexKey.deletedSnapshot("base")) }
            XCTAssertFalse(tables.isEmpty, "\(commit.type) is the record of some index entry")
        }
        XCTAssertThrowsError(try Commit(type: .data, payload: []), "a data record commits nothing")
        // The reset's tombstone names only the reset record.
        XCTAssertEqual(Commit.kinds.filter { $0.isCommitRecord(ofEntryIn: .tombstones, key: IndexKey.storeReset) }.map { $0.recordType },
                       [.reset])
        // A restore's entry, a saved and a deleted snapshot's each name one kind.
        XCTAssertEqual(Commit.kinds.filter { $0.isCommitRecord(ofEntryIn: .tombstones, key: IndexKey.restore(9)) }.map { $0.recordType },
                       [.restore])
        XCTAssertEqual(Commit.kinds.filter { $0.isCommitRecord(ofEntryIn: .snapshots, key: IndexKey.snapshot("b")) }.map { $0.recordType },
                       [.snapshot])
        XCTAssertEqual(Commit.kinds.filter { $0.isCommitRecord(ofEntryIn: .snapshots, key: IndexKey.deletedSnapshot("b")) }
                        .map { $0.recordType }, [.deleteSnapshot])
    }
}

extension CacheEffect {
    var isEverything: Bool {
        if case .everything = self { return true }
        return false
    }
}
