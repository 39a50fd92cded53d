import NIOCore
import ObjectStore

/// Bucket sub-resources of AWS features a local store does not run: transfer
/// acceleration, requester pays, access logging, replication, static websites, event
/// notifications, and the analytics, metrics, inventory and Intelligent-Tiering
/// configurations. Reads answer exactly as an AWS bucket without that configuration does
/// (Terraform and SDKs read them all), never 501. Writes store the document where that is
/// all S3 does with it that a test could see (accelerate, request payment); the others
/// would need the feature itself (delivering logs, replicating, serving a website, sending
/// events, producing reports) and answer 501 NotImplemented naming it.
enum BucketFeature: String, Sendable, CaseIterable {
    case accelerate
    case requestPayment
    case logging
    case replication
    case website
    case notification
    case analytics
    case metrics
    case inventory
    case intelligentTiering = "intelligent-tiering"

    /// The listed configurations (a GET without `id` lists them).
    var isListed: Bool { [.analytics, .metrics, .inventory, .intelligentTiering].contains(self) }

    func operationName(verb: String) -> String {
        switch self {
        case .accelerate: return "\(verb)BucketAccelerateConfiguration"
        case .requestPayment: return "\(verb)BucketRequestPayment"
        case .logging: return "\(verb)BucketLogging"
        case .replication: return "\(verb)BucketReplication"
        case .website: return "\(verb)BucketWebsite"
        case .notification: return "\(verb)BucketNotificationConfiguration"
        case .analytics: return "\(verb)BucketAnalyticsConfiguration\(verb == "List" ? "s" : "")"
        case .metrics: return "\(verb)BucketMetricsConfiguration\(verb == "List" ? "s" : "")"
        case .inventory: return "\(verb)BucketInventoryConfiguration\(verb == "List" ? "s" : "")"
        case .intelligentTiering: return "\(verb)BucketIntelligentTieringConfiguration\(verb == "List" ? "s" : "")"
        }
    }

    /// The IAM actions a bucket policy sees.
    var readAction: String {
        switch self {
        case .accelerate: "s3:GetAccelerateConfiguration"
        case .requestPayment: "s3:GetBucketRequestPayment"
        case .logging: "s3:GetBucketLogging"
        case .replication: "s3:GetReplicationConfiguration"
        case .website: "s3:GetBucketWebsite"
        case .notification: "s3:GetBucketNotification"
        case .analytics: "s3:GetAnalyticsConfiguration"
        case .metrics: "s3:GetMetricsConfiguration"
        case .inventory: "s3:GetInventoryConfiguration"
        case .intelligentTiering: "s3:GetIntelligentTieringConfiguration"
        }
    }

    var writeAction: String {
        switch self {
        case .accelerate: "s3:PutAccelerateConfiguration"
        case .requestPayment: "s3:PutBucketRequestPayment"
        case .logging: "s3:PutBucketLogging"
        case .replication: "s3:PutReplicationConfiguration"
        case .website: "s3:PutBucketWebsite"
        case .notification: "s3:PutBucketNotification"
        case .analytics: "s3:PutAnalyticsConfiguration"
        case .metrics: "s3:PutMetricsConfiguration"
        case .inventory: "s3:PutInventoryConfiguration"
        case .intelligentTiering: "s3:PutIntelligentTieringConfiguration"
        }
    }

    /// What the feature would do that Strata does not (the 501 message of its PUT).
    var unsupported: String? {
        switch self {
        case .accelerate, .requestPayment: nil
        case .logging: "Server access logging (delivering log objects)"
        case .replication: "Replication"
        case .website: "Static website hosting"
        case .notification: "Event notifications"
        case .analytics: "Storage class analysis"
        case .metrics: "CloudWatch request metrics"
        case .inventory: "S3 Inventory reports"
        case .intelligentTiering: "S3 Intelligent-Tiering archive configurations"
        }
    }
}

extension S3RequestHandler {
    func getBucketFeature(_ bucket: String, _ feature: BucketFeature, id: String?) async throws -> S3Response {
        _ = try await store.bucket(bucket)
        func document(_ root: String, _ body: (inout XMLWriter) -> Void = { _ in }) -> S3Response {
            var xml = XMLWriter()
            xml.open(root, namespace: Self.namespace)
            body(&xml)
            xml.close()
            return .xml(xml)
        }
        if feature.isListed, id != nil { throw S3Error.noSuchConfiguration }
        switch feature {
        case .accelerate:
            if let stored = try await store.bucketConfig(bucket: bucket, name: .accelerate) { return Self.xmlDocument(stored) }
            return document("AccelerateConfiguration")
        case .requestPayment:
            if let stored = try await store.bucketConfig(bucket: bucket, name: .requestPayment) { return Self.xmlDocument(stored) }
            return document("RequestPaymentConfiguration") { $0.element("Payer", "BucketOwner") }
        case .logging: return document("BucketLoggingStatus")
        case .replication: throw S3Error.replicationConfigurationNotFound(bucket: bucket)
        case .website: throw S3Error.noSuchWebsiteConfiguration(bucket: bucket)
        case .notification: return document("NotificationConfiguration")
        case .analytics: return document("ListBucketAnalyticsConfigurationResult") { $0.element("IsTruncated", "false") }
        case .metrics: return document("ListMetricsConfigurationsResult") { $0.element("IsTruncated", "false") }
        case .inventory: return document("ListInventoryConfigurationsResult") { $0.element("IsTruncated", "false") }
        case .intelligentTiering:
            return document("ListBucketIntelligentTieringConfigurationsOutput") { $0.element("IsTruncated", "false") }
        }
    }

    /// PutBucketAccelerateConfiguration (`Status` Enabled or Suspended) and
    /// PutBucketRequestPayment (`Payer` BucketOwner or Requester) store their document;
    /// the others are 501 naming the feature.
    func putBucketFeature(_ bucket: String, _ feature: BucketFeature, _ context: Context) async throws -> S3Response {
        if let unsupported = feature.unsupported {
            throw S3Error.notImplemented("\(unsupported) is not implemented by Strata (\(feature.operationName(verb: "Put")))")
        }
        let bytes = try await readDocument(context, limit: 64 * 1024)
        let name: BucketConfigName, root: XMLTree
        switch feature {
        case .accelerate:
            root = try XMLTree.parseDocument(bytes, root: "AccelerateConfiguration")
            guard ["Enabled", "Suspended"].contains(root.child("Status")?.text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw S3Error.malformedXML
            }
            // S3 refuses acceleration for names with dots (not DNS-compatible for it).
            if bucket.contains(".") {
                throw S3Error.invalidRequest("S3 Transfer Acceleration is not supported for buckets with periods (.) in their names")
            }
            name = .accelerate
        case .requestPayment:
            root = try XMLTree.parseDocument(bytes, root: "RequestPaymentConfiguration")
            guard ["BucketOwner", "Requester"].contains(root.child("Payer")?.text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw S3Error.malformedXML
            }
            name = .requestPayment
        case .logging, .replication, .website, .notification, .analytics, .metrics, .inventory, .intelligentTiering:
            throw S3Error.internalError("unreachable: \(feature) has no stored document")
        }
        try await storeBucketConfig(bucket, name: name, document: root.document())
        return S3Response()
    }

    /// Deleting a configuration Strata never has succeeds, as on an unconfigured AWS bucket
    /// (204; a listed configuration by id: 404 NoSuchConfiguration).
    func deleteBucketFeature(_ bucket: String, _ feature: BucketFeature) async throws -> S3Response {
        _ = try await store.bucket(bucket)
        if feature.isListed { throw S3Error.noSuchConfiguration }
        switch feature {
        case .website, .replication: return S3Response(status: .noContent)
        default: throw S3Error.notImplemented("\(feature.operationName(verb: "Delete")) is not an S3 operation")
        }
    }

    /// A stored XML document as a response.
    static func xmlDocument(_ bytes: [UInt8]) -> S3Response {
        var response = S3Response.xml("")
        response.body = .bytes(ByteBuffer(bytes: bytes))
        return response
    }
}
