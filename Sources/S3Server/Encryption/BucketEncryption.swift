import ObjectStore

/// A bucket's default encryption (PutBucketEncryption): what a write without encryption
/// headers gets. Stored as the document S3 returns on GET.
struct BucketEncryption: Sendable, Equatable {
    var kind: ObjectEncryption.Kind
    /// `KMSMasterKeyID` as PUT (a key id, key ARN, alias or alias ARN); nil: `aws/s3`.
    var kmsMasterKeyID: String?
    var bucketKeyEnabled: Bool

    /// Parses a `ServerSideEncryptionConfiguration`: exactly one `Rule` with an
    /// `ApplyServerSideEncryptionByDefault` (S3 answers MalformedXML otherwise, and for an
    /// algorithm it does not know); a `KMSMasterKeyID` only with `aws:kms` or
    /// `aws:kms:dsse`. The key id is not looked up here (S3 does not either): a write
    /// that uses a missing key fails as with the header.
    static func parse(_ bytes: [UInt8]) throws -> BucketEncryption {
        let root = try XMLTree.parseDocument(bytes, root: "ServerSideEncryptionConfiguration")
        let rules = root.children("Rule")
        guard rules.count == 1, root.children.count == 1, let rule = rules.first,
              let apply = rule.child("ApplyServerSideEncryptionByDefault") else { throw S3Error.malformedXML }
        let algorithm = apply.child("SSEAlgorithm")?.text.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard let kind = ObjectEncryption.Kind.allCases.first(where: { $0 != .customer && $0.headerValue == algorithm }) else {
            throw S3Error.malformedXML
        }
        let keyID = apply.child("KMSMasterKeyID")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if keyID != nil, !kind.isKMS {
            throw S3Error.invalidArgument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                name: "ApplyServerSideEncryptionByDefault")
        }
        var bucketKey = false
        if let text = rule.child("BucketKeyEnabled")?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
            guard text == "true" || text == "false" else { throw S3Error.malformedXML }
            bucketKey = text == "true"
        }
        return BucketEncryption(kind: kind, kmsMasterKeyID: keyID.flatMap { $0.isEmpty ? nil : $0 }, bucketKeyEnabled: bucketKey)
    }

    /// The document GetBucketEncryption returns.
    func document() -> [UInt8] {
        var xml = XMLWriter()
        xml.open("ServerSideEncryptionConfiguration", namespace: S3RequestHandler.namespace)
        xml.open("Rule")
        xml.open("ApplyServerSideEncryptionByDefault")
        xml.element("SSEAlgorithm", kind.headerValue)
        if let kmsMasterKeyID { xml.element("KMSMasterKeyID", kmsMasterKeyID) }
        xml.close()
        xml.element("BucketKeyEnabled", bucketKeyEnabled ? "true" : "false")
        xml.close()
        xml.close()
        return xml.bytes
    }
}
