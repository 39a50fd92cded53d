import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// Bucket operations: CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation. (Listing
/// a bucket is in S3RequestHandler+BucketListing.swift, its sub-resources in
/// S3RequestHandler+BucketConfiguration.swift.)
extension S3RequestHandler {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// The region where re-creating your own bucket succeeds (S3's legacy behaviour).
    static let legacyRegion = "us-east-1"

    func createBucket(_ bucket: String, _ context: Context) async throws -> S3Response {
        try ReservedBucketNames.checkNewBucket(bucket)
        let bytes = try await readDocument(context, limit: 64 * 1024)
        var region = configuration.region
        if !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            let configuration = try CreateBucketConfiguration.parse(bytes)
            if let constraint = configuration.locationConstraint, !constraint.isEmpty {
                region = constraint
            }
        }
        var attributes = try newBucketAttributes(context)
        attributes["region"] = region
        // Object Lock at creation: versioning Enabled and the lock on for good, both from
        // the creation record itself (``BucketInfo/objectLockAttribute``).
        if context.request.header("x-amz-bucket-object-lock-enabled")?.lowercased() == "true" {
            attributes[BucketInfo.objectLockAttribute] = "Enabled"
        }
        defer { settingsCache.invalidate(bucket) }
        do {
            try await store.createBucket(bucket, attributes: attributes)
        } catch let error as StoreError where error.code == .bucketAlreadyOwnedByYou {
            // Bucket names are global: someone else's bucket is BucketAlreadyExists.
            let existing = try await bucketSettings(bucket)
            if let existing, existing.owner != context.principal.canonicalId {
                throw S3Error.bucketAlreadyExists(bucket: bucket)
            }
            // S3's legacy us-east-1 rule: its owner re-creating a bucket there gets 200,
            // and nothing changes. Every other region answers BucketAlreadyOwnedByYou.
            guard existing?.region ?? configuration.region == Self.legacyRegion else { throw error }
        }
        var response = S3Response()
        response.headers.add(name: "Location", value: "/\(bucket)")
        return response
    }

    func headBucket(_ bucket: String) async throws -> S3Response {
        let info = try await store.bucket(bucket)
        var response = S3Response()
        response.headers.add(name: "x-amz-bucket-region", value: info.attributes["region"] ?? configuration.region)
        return response
    }

    func deleteBucket(_ bucket: String) async throws -> S3Response {
        defer { settingsCache.invalidate(bucket) }
        try await store.deleteBucket(bucket)
        return S3Response(status: .noContent)
    }

    func getBucketLocation(_ bucket: String) async throws -> S3Response {
        let info = try await store.bucket(bucket)
        let region = info.attributes["region"] ?? configuration.region
        var xml = XMLWriter()
        // us-east-1 is reported as an empty constraint, as S3 does.
        xml.open("LocationConstraint", namespace: Self.namespace)
        if region != "us-east-1" { xml.text(region) }
        xml.close()
        return .xml(xml)
    }
}

/// Continuation tokens are opaque to clients: the key (or bucket) to continue after,
/// base64url-encoded so any key survives the round trip through a query string.
enum ContinuationToken {
    static func encode(_ key: String) -> String {
        Data(key.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    static func decode(_ token: String) throws -> String {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let key = String(data: data, encoding: .utf8) else {
            throw S3Error.invalidArgument("The continuation token provided is incorrect", name: "continuation-token", value: token)
        }
        return key
    }
}
