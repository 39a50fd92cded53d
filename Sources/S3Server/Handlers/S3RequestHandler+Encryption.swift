import Foundation
import NIOHTTP1
import ObjectStore

/// Server-side encryption: what a write is sealed with, the key a read opens with, and
/// the bucket's default encryption (Put/Get/DeleteBucketEncryption).
extension S3RequestHandler {
    /// The sealing of a write to `bucket`: what its headers (or form fields) ask for, else
    /// the bucket's default encryption, else none. `checksMD5`: the request sent a
    /// Content-MD5 (an SSE-C or SSE-KMS write computes an MD5 only then).
    func sealing(bucket: String, _ header: (String) -> String?, checksMD5: Bool, remoteAddress: String?) async throws -> Sealing? {
        try await sealing(bucket: bucket, requested: try RequestedEncryption(header), bucketKeyHeader: header(RequestedEncryption.bucketKeyHeader),
                    checksMD5: checksMD5, remoteAddress: remoteAddress)
    }

    func sealing(bucket: String, requested: RequestedEncryption, bucketKeyHeader: String? = nil, checksMD5: Bool,
                 remoteAddress: String?) async throws -> Sealing? {
        let settings = try await bucketSettings(bucket)
        switch requested {
        case .customer(let customer):
            try requireSecureTransport(remoteAddress)
            let encryption = ObjectEncryption(kind: .customer, customerKeyCheck: .make(for: customer.key.symmetric))
            return Sealing(objectKey: customer.key, encryption: encryption, etagIsMD5: false, checksMD5: checksMD5)
        case .managed(let kind, let keyID, let encryptionContext, let bucketKey):
            // A request-level aws:kms takes the bucket's bucket-key setting unless it sets its own.
            let inherited = settings?.encryption.map { $0.kind.isKMS && $0.bucketKeyEnabled } ?? false
            return try managedSealing(kind, keyID: keyID, context: encryptionContext, bucketKey: bucketKey ?? inherited,
                                      settings: settings, checksMD5: checksMD5)
        case .none:
            guard let fallback = settings?.encryption else { return nil }
            let bucketKey = bucketKeyHeader.map { $0.lowercased() == "true" } ?? fallback.bucketKeyEnabled
            return try managedSealing(fallback.kind, keyID: fallback.kmsMasterKeyID, bucketKey: bucketKey,
                                      settings: settings, checksMD5: checksMD5)
        }
    }

    /// SSE-S3 or SSE-KMS: a fresh object key, wrapped for the kind (and KMS key).
    private func managedSealing(_ kind: ObjectEncryption.Kind, keyID: String?, context: String? = nil,
                                bucketKey: Bool, settings: BucketSettings?, checksMD5: Bool) throws -> Sealing {
        var encryption = ObjectEncryption(kind: kind)
        if kind.isKMS {
            encryption.kmsKeyID = try kmsKeyARN(keyID, settings: settings)
            encryption.context = context
            encryption.bucketKeyEnabled = bucketKey
        }
        let objectKey = EncryptionKey.random()
        return Sealing(objectKey: objectKey, encryption: configuration.keyRing.wrapping(objectKey, into: encryption),
                       etagIsMD5: kind == .s3, checksMD5: checksMD5)
    }

    /// The ARN of the KMS key `keyID` names (nil: `aws/s3`), in the server's region and
    /// the bucket owner's account.
    func kmsKeyARN(_ keyID: String?, settings: BucketSettings?) throws -> String {
        let account = users.accountId(canonicalId: settings?.owner ?? defaultOwner)
        return try configuration.keyRing.resolve(keyID, region: configuration.region, account: account)
    }

    /// The key that opens a version, from the request: for SSE-C the customer key in the
    /// headers named `prefix` (`x-amz-server-side-encryption-customer-` on GET and HEAD,
    /// the copy-source ones for a copy), checked against the version's; for SSE-S3 and
    /// SSE-KMS the unwrapped object key. Nil for a version stored as sent. The errors are
    /// S3's: no key for an SSE-C version, a key it does not match (403), customer
    /// headers for a version that is not SSE-C.
    ///
    /// Without `unwrapping` (HEAD, which sends no bytes), an SSE-S3 or SSE-KMS object's key
    /// is not unwrapped: as on S3, HEAD does not need the key.
    func objectKey(for info: ObjectInfo, _ headers: HTTPHeaders, prefix: String = CustomerKey.prefix,
                   unwrapping: Bool = true, remoteAddress: String?) throws -> (key: EncryptionKey?, customerKeyMD5: String?) {
        let presented = try CustomerKey({ headers.first(name: $0) }, prefix: prefix)
        guard let encryption = info.encryption else {
            if presented != nil { throw S3Error.invalidRequest("The encryption parameters are not applicable to this object.") }
            return (nil, nil)
        }
        guard encryption.kind == .customer else {
            if presented != nil { throw S3Error.invalidRequest("The encryption parameters are not applicable to this object.") }
            return (unwrapping ? try configuration.keyRing.objectKey(of: encryption) : nil, nil)
        }
        guard let presented else {
            throw S3Error.invalidRequest("The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
        }
        try requireSecureTransport(remoteAddress)
        guard encryption.customerKeyCheck?.matches(presented.key.symmetric) == true else {
            throw S3Error.accessDenied("Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.")
        }
        return (presented.key, presented.keyMD5)
    }

    /// The sealing of a part of `upload`: an SSE-C upload's key must come with every part
    /// (and match); an SSE-S3 or SSE-KMS upload's object key is unwrapped.
    func partSealing(_ upload: UploadInfo, _ headers: HTTPHeaders, remoteAddress: String?) throws -> (Sealing?, customerKeyMD5: String?) {
        let presented = try CustomerKey({ headers.first(name: $0) }, prefix: CustomerKey.prefix)
        let checksMD5 = headers.first(name: "content-md5") != nil
        guard let encryption = upload.encryption else {
            if presented != nil {
                throw S3Error.invalidRequest("The encryption parameters are not applicable to this object.")
            }
            return (nil, nil)
        }
        guard encryption.kind == .customer else {
            if presented != nil { throw S3Error.invalidRequest("The provided encryption parameters did not match the ones used originally.") }
            let key = try configuration.keyRing.objectKey(of: encryption)
            // An SSE-S3 part's ETag is its MD5, as a single PUT's.
            return (Sealing(objectKey: key, encryption: encryption, etagIsMD5: encryption.kind == .s3, checksMD5: checksMD5), nil)
        }
        guard let presented else {
            throw S3Error.invalidRequest("The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.")
        }
        try requireSecureTransport(remoteAddress)
        guard encryption.customerKeyCheck?.matches(presented.key.symmetric) == true else {
            throw S3Error.invalidRequest("The provided encryption parameters did not match the ones used originally.")
        }
        return (Sealing(objectKey: presented.key, encryption: encryption, etagIsMD5: false, checksMD5: checksMD5), presented.keyMD5)
    }

    /// AWS takes SSE-C keys only over HTTPS. Strata also takes them over plain HTTP from
    /// the loopback interface, where the key never leaves the machine: that is how a
    /// local test store is used. From any other address, plain HTTP is refused as S3 does.
    func requireSecureTransport(_ remoteAddress: String?) throws {
        guard Self.takesCustomerKeys(tls: configuration.tls != nil, remoteAddress: remoteAddress) else {
            throw S3Error.invalidRequest("Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.")
        }
    }

    /// Whether a connection may carry SSE-C keys: over TLS, or from loopback (or from an
    /// address unknown, which only an in-process channel has).
    static func takesCustomerKeys(tls: Bool, remoteAddress: String?) -> Bool {
        guard !tls, let address = remoteAddress else { return true }
        return address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }

    /// GET and HEAD take no `x-amz-server-side-encryption` (S3: 400).
    func rejectEncryptionHeaderOnRead(_ headers: HTTPHeaders) throws {
        if let value = headers.first(name: RequestedEncryption.header) {
            throw S3Error.invalidArgument("x-amz-server-side-encryption header is not supported for this operation.",
                                          name: RequestedEncryption.header, value: value)
        }
    }

    // MARK: - Bucket default encryption

    func putBucketEncryption(_ bucket: String, _ context: Context) async throws -> S3Response {
        let configuration = try BucketEncryption.parse(try await readDocument(context, limit: 64 * 1024))
        try await storeBucketConfig(bucket, name: .encryption, document: configuration.document())
        return S3Response()
    }

    /// The bucket's default encryption; 404 ServerSideEncryptionConfigurationNotFoundError
    /// without one.
    func getBucketEncryption(_ bucket: String) async throws -> S3Response {
        try await storedConfigResponse(bucket, name: .encryption, missing: .serverSideEncryptionConfigurationNotFound(bucket: bucket))
    }

    func deleteBucketEncryption(_ bucket: String) async throws -> S3Response {
        try await storeBucketConfig(bucket, name: .encryption, document: [])
        return S3Response(status: .noContent)
    }
}
