import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation.
extension S3RequestHandler {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

    /// The region where re-creating your own bucket succeeds (S3's legacy behaviour).
    static let legacyRegion = "us-east-1"

    func listBuckets(_ context: Context) async throws -> S3Response {
        let request = context.request
        let prefix = request.query("prefix") ?? ""
        var maxBuckets = 10_000
        if let text = request.query("max-buckets") {
            guard let value = Int(text), (1...10_000).contains(value) else {
                throw S3Error.invalidArgument("max-buckets must be between 1 and 10000", name: "max-buckets", value: text)
            }
            maxBuckets = value
        }
        let after = try request.query("continuation-token").map { try ContinuationToken.decode($0) }
        // S3 lists the buckets the caller owns.
        let me = context.principal.canonicalId, fallback = defaultOwner
        var buckets = try await store.listBuckets().filter {
            $0.name.hasPrefix(prefix) && ($0.attributes[BucketSettings.Config.ownerAttribute] ?? fallback) == me
        }
        if let after { buckets = buckets.filter { $0.name > after } }
        let truncated = buckets.count > maxBuckets
        buckets = Array(buckets.prefix(maxBuckets))
        let owner = Owner(context.principal)
        var xml = XMLWriter()
        xml.open("ListAllMyBucketsResult", namespace: Self.namespace)
        xml.element("Owner") {
            $0.element("ID", owner.id)
            $0.element("DisplayName", owner.displayName)
        }
        xml.element("Buckets") { xml in
            for bucket in buckets {
                xml.element("Bucket") {
                    $0.element("Name", bucket.name)
                    $0.element("CreationDate", TimeFormat.iso8601(milliseconds: bucket.created))
                    $0.element("BucketRegion", bucket.attributes["region"] ?? configuration.region)
                }
            }
        }
        if truncated, let last = buckets.last { xml.element("ContinuationToken", ContinuationToken.encode(last.name)) }
        if request.has("prefix") { xml.element("Prefix", prefix) }
        xml.close()
        return .xml(xml)
    }

    func createBucket(_ context: Context) async throws -> S3Response {
        try ReservedBucketNames.checkNewBucket(context.bucket)
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
        if context.request.header("x-amz-bucket-object-lock-enabled")?.lowercased() == "true" {
            throw S3Error.notImplemented("Object Lock is not implemented by Strata")
        }
        defer { settingsCache.invalidate(context.bucket) }
        do {
            try await store.createBucket(context.bucket, attributes: attributes)
        } catch let error as StoreError where error.code == .bucketAlreadyOwnedByYou {
            // Bucket names are global: someone else's bucket is BucketAlreadyExists.
            let existing = try await bucketSettings(context.bucket)
            if let existing, existing.owner != context.principal.canonicalId {
                throw S3Error.bucketAlreadyExists(bucket: context.bucket)
            }
            // S3's legacy us-east-1 rule: its owner re-creating a bucket there gets 200,
            // and nothing changes. Every other region answers BucketAlreadyOwnedByYou.
            guard existing?.region ?? configuration.region == Self.legacyRegion else { throw error }
        }
        var response = S3Response()
        response.headers.add(name: "Location", value: "/\(context.bucket)")
        return response
    }

    func headBucket(_ context: Context) async throws -> S3Response {
        let bucket = try await store.bucket(context.bucket)
        var response = S3Response()
        response.headers.add(name: "x-amz-bucket-region", value: bucket.attributes["region"] ?? configuration.region)
        return response
    }

    func deleteBucket(_ context: Context) async throws -> S3Response {
        defer { settingsCache.invalidate(context.bucket) }
        try await store.deleteBucket(context.bucket)
        return S3Response(status: .noContent)
    }

    func getBucketLocation(_ context: Context) async throws -> S3Response {
        let bucket = try await store.bucket(context.bucket)
        let region = bucket.attributes["region"] ?? configuration.region
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
