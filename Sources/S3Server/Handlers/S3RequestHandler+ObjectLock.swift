import Foundation
import NIOHTTP1
import ObjectStore

/// Object Lock: the bucket's configuration, retention and legal hold per version, the
/// lock a write asks for, and who may bypass GOVERNANCE retention. The rule that a
/// protected version is never removed lives in the engine (``ObjectStore/deleteObject``).
extension S3RequestHandler {
    // MARK: - Bucket configuration

    /// GetObjectLockConfiguration: 404 ObjectLockConfigurationNotFoundError for a bucket
    /// without Object Lock.
    func getObjectLockConfiguration(_ bucket: String, _ context: Context) async throws -> S3Response {
        let settings = try requireBucket(bucket, context)
        guard settings.objectLockEnabled else { throw S3Error.objectLockConfigurationNotFound(bucket: bucket) }
        var response = S3Response.xml("")
        response.body = .bytes(.init(bytes: (settings.objectLock ?? ObjectLockConfiguration()).document()))
        return response
    }

    /// PutObjectLockConfiguration: turns Object Lock on (versioning must be Enabled:
    /// 409 InvalidBucketState otherwise, from the engine) or changes the default retention.
    func putObjectLockConfiguration(_ bucket: String, _ context: Context) async throws -> S3Response {
        let configuration = try ObjectLockConfiguration.parse(try await readDocument(context, limit: 64 * 1024))
        defer { settingsCache.invalidate(bucket) }
        try await store.putObjectLockConfiguration(bucket: bucket, document: configuration.document())
        return S3Response()
    }

    // MARK: - Retention and legal hold of a version

    /// GetObjectRetention: 404 NoSuchObjectLockConfiguration for a version without one.
    func getObjectRetention(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        try requireObjectLock(object.bucket, context)
        let info = try await addressedVersion(object, context)
        guard let mode = info.lock?.mode, let until = info.lock?.retainUntil else { throw S3Error.noSuchObjectLockConfiguration }
        var response = S3Response.xml("")
        response.body = .bytes(.init(bytes: ObjectLockDocuments.retentionDocument(mode: mode, until: until)))
        return response
    }

    /// PutObjectRetention, as S3 rules it: a date in the future; an active COMPLIANCE
    /// retention only lengthened (same mode); an active GOVERNANCE one shortened, removed or
    /// loosened only with `x-amz-bypass-governance-retention` and the permission to bypass.
    /// Checked against the version as it is at the commit.
    func putObjectRetention(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        try requireObjectLock(object.bucket, context)
        let requested = try ObjectLockDocuments.parseRetention(try await readDocument(context, limit: 64 * 1024))
        let now = ObjectStore.now()
        if let requested, requested.until <= now {
            throw S3Error.invalidArgument("The retain until date must be in the future!", name: "RetainUntilDate",
                                          value: TimeFormat.iso8601(milliseconds: requested.until))
        }
        let bypass = await bypassesGovernance(context, bucket: object.bucket, key: object.key)
        let access = context.access
        let info = try await Self.mappingVersionErrors(key: object.key, versionId: object.versionId,
                                                       method: context.request.method.rawValue) {
            try await store.recommitVersion(bucket: object.bucket, key: object.key, versionID: object.versionId) { version in
                try access.authorize(object: version)
                var lock = version.lock ?? ObjectLock()
                if let current = lock.activeRetention(now: ObjectStore.now()) {
                    let keepsOrExtends = requested.map { $0.until >= current.until && ($0.mode == current.mode || $0.mode == .compliance) } ?? false
                    if !keepsOrExtends && (current.mode == .compliance || !bypass) { throw S3Error.accessDenied() }
                }
                lock.mode = requested?.mode
                lock.retainUntil = requested?.until
                version.lock = lock.isEmpty ? nil : lock
            }
        }
        var response = S3Response()
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        return response
    }

    /// GetObjectLegalHold: 404 NoSuchObjectLockConfiguration for a version never given one.
    func getObjectLegalHold(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        try requireObjectLock(object.bucket, context)
        let info = try await addressedVersion(object, context)
        guard let lock = info.lock else { throw S3Error.noSuchObjectLockConfiguration }
        var response = S3Response.xml("")
        response.body = .bytes(.init(bytes: ObjectLockDocuments.legalHoldDocument(lock.legalHold)))
        return response
    }

    func putObjectLegalHold(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        try requireObjectLock(object.bucket, context)
        let on = try ObjectLockDocuments.parseLegalHold(try await readDocument(context, limit: 64 * 1024))
        let access = context.access
        let info = try await Self.mappingVersionErrors(key: object.key, versionId: object.versionId,
                                                       method: context.request.method.rawValue) {
            try await store.recommitVersion(bucket: object.bucket, key: object.key, versionID: object.versionId) { version in
                try access.authorize(object: version)
                var lock = version.lock ?? ObjectLock()
                lock.legalHold = on
                version.lock = lock
            }
        }
        var response = S3Response()
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        return response
    }

    /// Retention and legal-hold calls on a bucket without Object Lock: 400 InvalidRequest.
    private func requireObjectLock(_ bucket: String, _ context: Context) throws {
        guard try requireBucket(bucket, context).objectLockEnabled else {
            throw S3Error.invalidRequest("Bucket is missing Object Lock Configuration")
        }
    }

    // MARK: - Writes and deletes

    /// The lock a new version gets: what the write's headers (or form fields) ask for,
    /// else the bucket's default retention. Lock headers on a bucket without Object Lock
    /// are 400 InvalidRequest; a write that sets a lock must carry Content-MD5 or an
    /// `x-amz-checksum-*` (S3: 400 InvalidRequest), `integrityChecked` says whether it does.
    func lockForWrite(bucket: String, _ header: (String) -> String?, integrityChecked: Bool) async throws -> ObjectLock? {
        let now = ObjectStore.now()
        let requested = try ObjectLockDocuments.requested(header, now: now)
        let settings = try await bucketSettings(bucket)
        guard settings?.objectLockEnabled == true else {
            if requested != nil { throw S3Error.invalidRequest("Bucket is missing Object Lock Configuration") }
            return nil
        }
        var lock = requested ?? ObjectLock()
        if lock.mode == nil, let retention = settings?.objectLock?.defaultRetention {
            lock.mode = retention.mode
            lock.retainUntil = retention.retainUntil(now: now)
        }
        guard !lock.isEmpty else { return nil }
        guard integrityChecked else {
            throw S3Error.invalidRequest("Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters")
        }
        return lock
    }

    /// Whether a request's headers carry an integrity check of its body: Content-MD5, or
    /// an `x-amz-checksum-*` value (in a header, or a trailer the headers announce). The
    /// SDK's `x-amz-sdk-checksum-algorithm` alone names an algorithm but checks nothing.
    static func hasIntegrityCheck(_ headers: HTTPHeaders) -> Bool {
        headers.contains { field in
            let name = field.name.lowercased()
            return name == "content-md5" || name == "x-amz-trailer"
                || (name.hasPrefix("x-amz-checksum-") && name != "x-amz-checksum-type" && name != "x-amz-checksum-mode"
                    && name != "x-amz-checksum-algorithm")
        }
    }

    /// `x-amz-bypass-governance-retention: true` counts only for a caller allowed
    /// `s3:BypassGovernanceRetention` (the bucket owner, or by the bucket policy).
    func bypassesGovernance(_ context: Context, bucket: String, key: String) async -> Bool {
        guard context.request.header("x-amz-bypass-governance-retention")?.lowercased() == "true" else { return false }
        return (try? await authorize(context, AccessRule.bucketOwner("s3:BypassGovernanceRetention"), bucket: bucket, key: key)) != nil
    }
}
