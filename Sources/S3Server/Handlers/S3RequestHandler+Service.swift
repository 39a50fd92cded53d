import ObjectStore

/// The service: ListBuckets.
extension S3RequestHandler {
    func listBuckets(_ parameters: ListBucketsParameters, _ context: Context) async throws -> S3Response {
        let prefix = parameters.prefix, maxBuckets = parameters.maxBuckets
        // S3 lists the buckets the caller owns.
        let me = context.principal.canonicalId, fallback = defaultOwner
        var buckets = try await store.listBuckets().filter {
            $0.name.hasPrefix(prefix) && ($0.attributes[BucketSettings.Config.ownerAttribute] ?? fallback) == me
        }
        if let after = parameters.after { buckets = buckets.filter { $0.name > after } }
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
        if parameters.prefixSent { xml.element("Prefix", prefix) }
        xml.close()
        return .xml(xml)
    }
}
