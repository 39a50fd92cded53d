import ObjectStore

/// The router: which operation a request asks for, from its method, its address and its
/// sub-resource, with every parameter of that operation parsed and checked here, once.
extension S3Operation {
    /// S3's limit on the UTF-8 length of an object key.
    static let maxKeyBytes = 1024

    /// S3's part numbers.
    static let partNumbers = 1...10_000

    /// Query parameters that select a sub-resource (an operation other than the plain one).
    static let subresources: Set<String> = [
        "abac", "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
        "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
        "metadataConfiguration", "metadataTable", "metrics", "notification", "object-lock",
        "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock",
        "renameObject", "replication", "requestPayment", "restore", "retention", "select",
        "session", "tagging", "torrent", "uploadId", "uploads", "versioning", "versions", "website",
    ]

    /// The operation `request` asks for.
    /// - Throws: `NotImplemented` for an operation Strata does not have; the S3 error of
    ///   the first parameter that is malformed (an invalid bucket name, a key too long, a
    ///   malformed version id, part number, copy source or listing parameter).
    init(_ request: S3Request) throws {
        let method = request.method
        let subresource = Self.subresource(of: request)
        guard let bucket = request.bucket else {
            guard method == .GET, subresource == nil else { throw Self.notImplemented(request, subresource) }
            self = .listBuckets(try ListBucketsParameters(request))
            return
        }
        if bucket == S3RequestHandler.adminPath, !request.virtualHosted {
            self = try Self.adminOperation(request)
            return
        }
        // No bucket can have a longer name (CreateBucket enforces S3's rules), and the
        // index's key encoding relies on it.
        guard (1...63).contains(bucket.utf8.count) else { throw S3Error.invalidBucketName(bucket: bucket) }
        guard let key = request.key else {
            self = try Self.bucketOperation(request, bucket: bucket, subresource: subresource)
            return
        }
        // A malformed version id is InvalidArgument on every object operation.
        let versionId = try Self.requestedVersion(request)
        // S3 checks the key length on every object operation, reads included: a GET or
        // HEAD of a 1025-byte key is 400 KeyTooLongError, not 404.
        if key.utf8.count > Self.maxKeyBytes {
            throw S3Error.keyTooLongError(size: key.utf8.count, maxSizeAllowed: Self.maxKeyBytes)
        }
        let object = ObjectAddress(bucket: bucket, key: key, versionId: versionId)
        let upload = UploadAddress(bucket: bucket, key: key, uploadId: request.query("uploadId") ?? "")
        // A PUT with `x-amz-copy-source` copies (CopyObject, UploadPartCopy).
        func copySource() throws -> CopySource? { try request.header("x-amz-copy-source").map { try CopySource($0) } }
        switch (method, subresource) {
        case (.GET, nil), (.GET, "partNumber"):
            self = .getObject(object, partNumber: try Self.optionalPartNumber(request))
        case (.HEAD, nil), (.HEAD, "partNumber"):
            self = .headObject(object, partNumber: try Self.optionalPartNumber(request))
        case (.PUT, nil): self = try copySource().map { .copyObject(object, source: $0) } ?? .putObject(object)
        case (.DELETE, nil): self = .deleteObject(object)
        case (.POST, "uploads"): self = .createMultipartUpload(object)
        case (.PUT, "uploadId"):
            let partNumber = try Self.partNumber(request)
            self = try copySource().map { .uploadPartCopy(upload, partNumber: partNumber, source: $0) }
                ?? .uploadPart(upload, partNumber: partNumber)
        case (.POST, "uploadId"): self = .completeMultipartUpload(upload)
        case (.DELETE, "uploadId"): self = .abortMultipartUpload(upload)
        case (.GET, "uploadId"): self = .listParts(upload, try ListPartsParameters(request))
        case (.GET, "acl"): self = .getObjectAcl(object)
        case (.PUT, "acl"): self = .putObjectAcl(object)
        case (.GET, "tagging"): self = .getObjectTagging(object)
        case (.GET, "attributes"): self = .getObjectAttributes(object)
        case (.GET, "retention"): self = .getObjectRetention(object)
        case (.PUT, "retention"): self = .putObjectRetention(object)
        case (.GET, "legal-hold"): self = .getObjectLegalHold(object)
        case (.PUT, "legal-hold"): self = .putObjectLegalHold(object)
        case (.PUT, "tagging"): self = .putObjectTagging(object)
        case (.DELETE, "tagging"): self = .deleteObjectTagging(object)
        default: throw Self.notImplemented(request, subresource)
        }
    }

    private static func bucketOperation(_ request: S3Request, bucket: String, subresource: String?) throws -> S3Operation {
        switch (request.method, subresource) {
        case (.GET, nil):
            if request.query("list-type") == "2" { return .listObjectsV2(bucket: bucket, try ListObjectsV2Parameters(request)) }
            return .listObjects(bucket: bucket, try ListObjectsParameters(request))
        case (.GET, "location"): return .getBucketLocation(bucket: bucket)
        case (.PUT, nil): return .createBucket(bucket: bucket)
        case (.HEAD, nil): return .headBucket(bucket: bucket)
        case (.DELETE, nil): return .deleteBucket(bucket: bucket)
        case (.POST, "delete"): return .deleteObjects(bucket: bucket)
        case (.PUT, "lifecycle"): return .putBucketLifecycle(bucket: bucket)
        case (.GET, "lifecycle"): return .getBucketLifecycle(bucket: bucket)
        case (.DELETE, "lifecycle"): return .deleteBucketLifecycle(bucket: bucket)
        case (.GET, "uploads"): return .listMultipartUploads(bucket: bucket, try ListUploadsParameters(request))
        case (.PUT, "versioning"): return .putBucketVersioning(bucket: bucket)
        case (.GET, "versioning"): return .getBucketVersioning(bucket: bucket)
        case (.GET, "versions"): return .listObjectVersions(bucket: bucket, try ListVersionsParameters(request))
        case (.PUT, "tagging"): return .putBucketTagging(bucket: bucket)
        case (.GET, "tagging"): return .getBucketTagging(bucket: bucket)
        case (.DELETE, "tagging"): return .deleteBucketTagging(bucket: bucket)
        case (.PUT, "cors"): return .putBucketCors(bucket: bucket)
        case (.GET, "object-lock"): return .getObjectLockConfiguration(bucket: bucket)
        case (.PUT, "object-lock"): return .putObjectLockConfiguration(bucket: bucket)
        case (.GET, "encryption"): return .getBucketEncryption(bucket: bucket)
        case (.PUT, "encryption"): return .putBucketEncryption(bucket: bucket)
        case (.DELETE, "encryption"): return .deleteBucketEncryption(bucket: bucket)
        case (.GET, "cors"): return .getBucketCors(bucket: bucket)
        case (.DELETE, "cors"): return .deleteBucketCors(bucket: bucket)
        case (.GET, "acl"): return .getBucketAcl(bucket: bucket)
        case (.PUT, "acl"): return .putBucketAcl(bucket: bucket)
        case (.GET, "policy"): return .getBucketPolicy(bucket: bucket)
        case (.PUT, "policy"): return .putBucketPolicy(bucket: bucket)
        case (.DELETE, "policy"): return .deleteBucketPolicy(bucket: bucket)
        case (.GET, "policyStatus"): return .getBucketPolicyStatus(bucket: bucket)
        case (.GET, "publicAccessBlock"): return .getPublicAccessBlock(bucket: bucket)
        case (.PUT, "publicAccessBlock"): return .putPublicAccessBlock(bucket: bucket)
        case (.DELETE, "publicAccessBlock"): return .deletePublicAccessBlock(bucket: bucket)
        case (.GET, "ownershipControls"): return .getOwnershipControls(bucket: bucket)
        case (.PUT, "ownershipControls"): return .putOwnershipControls(bucket: bucket)
        case (.DELETE, "ownershipControls"): return .deleteOwnershipControls(bucket: bucket)
        default:
            if let name = subresource, let feature = BucketFeature(rawValue: name) {
                switch request.method {
                case .GET: return .getBucketFeature(bucket: bucket, feature, id: request.query("id"))
                case .PUT: return .putBucketFeature(bucket: bucket, feature)
                case .DELETE: return .deleteBucketFeature(bucket: bucket, feature)
                default: break
                }
            }
            throw notImplemented(request, subresource)
        }
    }

    /// Operator endpoints under `/_strata/` (see S3RequestHandler+Admin.swift).
    private static func adminOperation(_ request: S3Request) throws -> S3Operation {
        switch (request.method, request.key) {
        case (.POST, "compact"): return .compact(try CompactionParameters(request))
        case (.POST, "reset"): return .reset
        case (.GET, "faults"): return .faults(.list)
        case (.PUT, "faults"): return .faults(.replace)
        case (.POST, "faults"): return .faults(.add)
        case (.DELETE, "faults"): return .faults(.clear)
        case (.DELETE, let key?) where key.hasPrefix("faults/") && key.count > "faults/".count:
            return .faults(.remove(id: String(key.dropFirst("faults/".count))))
        case (.GET, "snapshots"): return .snapshots(.list)
        case (let method, let key?) where key.hasPrefix("snapshots/") && key.count > "snapshots/".count:
            let name = String(key.dropFirst("snapshots/".count))
            switch method {
            case .POST where name.hasSuffix("/restore"): return .snapshots(.restore(name: String(name.dropLast("/restore".count))))
            case .POST: return .snapshots(.save(name: name))
            case .DELETE: return .snapshots(.delete(name: name))
            default: break
            }
            throw S3Error.notImplemented("\(request.method.rawValue) \(request.resource) is not an operator endpoint")
        default: throw S3Error.notImplemented("\(request.method.rawValue) \(request.resource) is not an operator endpoint")
        }
    }

    /// The sub-resource a request addresses. The multipart parameters come in any order
    /// (`?partNumber=1&uploadId=…`), so they name the operation only when no other
    /// sub-resource does, and `uploadId` outranks `partNumber`.
    static func subresource(of request: S3Request) -> String? {
        let multipart = ["uploadId", "uploads", "partNumber"]
        if let other = request.query.first(where: { subresources.contains($0.name) && !multipart.contains($0.name) }) {
            return other.name
        }
        return multipart.first { request.has($0) }
    }

    private static func notImplemented(_ request: S3Request, _ subresource: String?) -> S3Error {
        let what = subresource.map { "\(request.method.rawValue) ?\($0)" } ?? "\(request.method.rawValue) on this resource"
        return S3Error.notImplemented("\(what) is not implemented by Strata yet")
    }

    /// The `versionId` query parameter in the store's form (empty: the null version).
    /// A malformed id is 400 InvalidArgument, as in S3; a well-formed one that names no
    /// version is the operation's business (404 NoSuchVersion on GET, success on DELETE).
    static func requestedVersion(_ request: S3Request) throws -> String? {
        guard let text = request.query("versionId") else { return nil }
        guard ObjectStore.isWellFormedVersionID(text) else {
            throw S3Error.invalidArgument("Invalid version id specified", name: "versionId", value: text)
        }
        return text == "null" ? "" : text
    }

    /// The `partNumber` query parameter (1...10000; InvalidArgument otherwise).
    static func partNumber(_ request: S3Request) throws -> Int {
        let text = request.query("partNumber") ?? ""
        guard let number = Int(text), partNumbers.contains(number) else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and 10000, inclusive",
                                          name: "partNumber", value: text)
        }
        return number
    }

    /// ``partNumber(_:)`` when the parameter is there at all.
    private static func optionalPartNumber(_ request: S3Request) throws -> Int? {
        try request.query("partNumber").map { _ in try partNumber(request) }
    }
}

// MARK: - Parameters

extension ListBucketsParameters {
    init(_ request: S3Request) throws {
        prefix = request.query("prefix") ?? ""
        prefixSent = request.has("prefix")
        maxBuckets = 10_000
        if let text = request.query("max-buckets") {
            guard let value = Int(text), (1...10_000).contains(value) else {
                throw S3Error.invalidArgument("max-buckets must be between 1 and 10000", name: "max-buckets", value: text)
            }
            maxBuckets = value
        }
        after = try request.query("continuation-token").map { try ContinuationToken.decode($0) }
    }
}

extension ListParameters {
    init(_ request: S3Request) throws {
        prefix = request.query("prefix") ?? ""
        delimiter = request.query("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        maxKeys = 1000
        if let text = request.query("max-keys") {
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided max-keys not an integer or within integer range",
                                              name: "max-keys", value: text)
            }
            maxKeys = min(value, 1000)
        }
        urlEncode = try Self.encodingType(request)
    }

    /// `encoding-type`: absent or `url`.
    static func encodingType(_ request: S3Request) throws -> Bool {
        switch request.query("encoding-type") {
        case nil: return false
        case "url": return true
        case let other?:
            throw S3Error.invalidArgument("Invalid Encoding Method specified in Request", name: "encoding-type", value: other)
        }
    }
}

extension ListObjectsParameters {
    init(_ request: S3Request) throws {
        list = try ListParameters(request)
        marker = request.query("marker")
    }

    /// The key the page starts after.
    var after: String? { marker.flatMap { $0.isEmpty ? nil : $0 } }
}

extension ListObjectsV2Parameters {
    init(_ request: S3Request) throws {
        list = try ListParameters(request)
        continuationToken = request.query("continuation-token")
        startAfter = request.query("start-after")
        fetchOwner = request.query("fetch-owner") == "true"
        after = startAfter.flatMap { $0.isEmpty ? nil : $0 }
        if let continuationToken {
            // The token names the last key (or common prefix) of the previous page, so a
            // common prefix is never repeated across pages (docs/S3-NOTES.md, "ListObjectsV2
            // paging").
            after = try ContinuationToken.decode(continuationToken)
        }
    }
}

extension ListVersionsParameters {
    init(_ request: S3Request) throws {
        list = try ListParameters(request)
        keyMarker = request.query("key-marker") ?? ""
        versionIdMarker = request.query("version-id-marker") ?? ""
        if !versionIdMarker.isEmpty {
            guard !keyMarker.isEmpty else {
                throw S3Error.invalidArgument("A version-id marker cannot be specified without a key marker.",
                                              name: "version-id-marker", value: versionIdMarker)
            }
            guard ObjectStore.isWellFormedVersionID(versionIdMarker) else {
                throw S3Error.invalidArgument("Invalid version id specified", name: "version-id-marker", value: versionIdMarker)
            }
        }
    }
}

extension ListUploadsParameters {
    init(_ request: S3Request) throws {
        prefix = request.query("prefix") ?? ""
        delimiter = request.query("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        keyMarker = request.query("key-marker").flatMap { $0.isEmpty ? nil : $0 }
        uploadIdMarker = keyMarker == nil ? nil : request.query("upload-id-marker").flatMap { $0.isEmpty ? nil : $0 }
        maxUploads = try maxCount(request, "max-uploads")
        urlEncode = try ListParameters.encodingType(request)
    }
}

extension ListPartsParameters {
    init(_ request: S3Request) throws {
        maxParts = try maxCount(request, "max-parts")
        marker = 0
        if let text = request.query("part-number-marker"), !text.isEmpty {
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided part-number-marker not an integer or within integer range",
                                              name: "part-number-marker", value: text)
            }
            marker = value
        }
    }
}

/// `max-parts` / `max-uploads`: 1000 by default and at most.
private func maxCount(_ request: S3Request, _ name: String) throws -> Int {
    guard let text = request.query(name) else { return 1000 }
    guard let value = Int(text), value >= 0 else {
        throw S3Error.invalidArgument("Provided \(name) not an integer or within integer range", name: name, value: text)
    }
    return min(value, 1000)
}

extension CompactionParameters {
    init(_ request: S3Request) throws {
        if let text = request.query("threshold") {
            guard let value = Double(text), (0...1).contains(value) else {
                throw S3Error.invalidArgument("threshold must be a number from 0 to 1", name: "threshold", value: text)
            }
            threshold = value
        }
        if let text = request.query("segment") {
            let ids = text.split(separator: ",").map { UInt64($0) }
            guard !ids.isEmpty, !ids.contains(nil) else {
                throw S3Error.invalidArgument("segment must be a comma-separated list of segment ids", name: "segment", value: text)
            }
            segments = ids.compactMap { $0 }
        }
        if let text = request.query("bandwidth") {
            guard let value = UInt64(text), value > 0 else {
                throw S3Error.invalidArgument("bandwidth must be a positive number of bytes per second", name: "bandwidth", value: text)
            }
            bytesPerSecond = value
        }
    }
}
