import Foundation

/// The namespace S3 documents are in. Request bodies may use it or no namespace at all.
let s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

extension XMLTree {
    /// Parses `bytes` and checks that the root element is `name`, in the S3 namespace or
    /// none; anything else is ``S3Error/malformedXML``.
    static func parseDocument(_ bytes: [UInt8], root name: String) throws -> XMLTree {
        let root = try parse(bytes)
        guard root.name == name, root.namespace == nil || root.namespace == s3Namespace else {
            throw S3Error.malformedXML
        }
        return root
    }
}

/// The optional body of CreateBucket:
/// `<CreateBucketConfiguration><LocationConstraint>region</LocationConstraint></CreateBucketConfiguration>`.
public struct CreateBucketConfiguration: Sendable, Hashable {
    /// The requested region, or nil when absent or empty (which means `us-east-1`).
    public var locationConstraint: String?

    /// Creates a configuration.
    public init(locationConstraint: String? = nil) {
        self.locationConstraint = locationConstraint
    }

    /// Parses a non-empty body; an empty body means "no configuration" and is the
    /// caller's case. Throws ``S3Error/malformedXML`` on bad XML or a different root.
    public static func parse(_ bytes: [UInt8]) throws -> CreateBucketConfiguration {
        let root = try XMLTree.parseDocument(bytes, root: "CreateBucketConfiguration")
        let constraint = root.child("LocationConstraint")?.text
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return CreateBucketConfiguration(locationConstraint: constraint?.isEmpty == false ? constraint : nil)
    }
}

/// The body of DeleteObjects (`POST /bucket?delete`):
/// `<Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>v</VersionId></Object>…</Delete>`.
public struct DeleteRequest: Sendable, Hashable {
    /// One object to delete.
    public struct Object: Sendable, Hashable {
        /// The key, exactly as sent: entities decoded, white space kept.
        public var key: String
        /// The version to delete, or nil for the current one.
        public var versionId: String?

        /// Creates an entry.
        public init(key: String, versionId: String? = nil) {
            self.key = key
            self.versionId = versionId
        }
    }

    /// S3's limit on keys per DeleteObjects request; more is ``S3Error/malformedXML``.
    public static let maximumObjectCount = 1000

    /// When true the response lists only errors, not the deleted keys.
    public var quiet: Bool
    /// The objects to delete, in request order (1...``maximumObjectCount`` of them).
    public var objects: [Object]

    /// Creates a request.
    public init(quiet: Bool = false, objects: [Object]) {
        self.quiet = quiet
        self.objects = objects
    }

    /// Parses the body. Throws ``S3Error/malformedXML`` on bad XML, a root other than
    /// `Delete`, an `Object` without `Key`, or zero or more than 1000 objects, which is
    /// what S3 answers in each case.
    ///
    /// `Quiet` is true when its text is `true` in any case, ignoring surrounding white
    /// space; otherwise (including absent) false. An empty `<Key/>` is returned as ""
    /// for the caller to report per key.
    public static func parse(_ bytes: [UInt8]) throws -> DeleteRequest {
        let root = try XMLTree.parseDocument(bytes, root: "Delete")
        let objectNodes = root.children("Object")
        guard (1...maximumObjectCount).contains(objectNodes.count) else { throw S3Error.malformedXML }
        let objects = try objectNodes.map { node in
            guard let key = node.child("Key") else { throw S3Error.malformedXML }
            return Object(key: key.text, versionId: node.child("VersionId")?.text)
        }
        let quiet = root.child("Quiet")?.text
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased() == "true"
        return DeleteRequest(quiet: quiet, objects: objects)
    }
}

/// The body of CompleteMultipartUpload (`POST /bucket/key?uploadId=…`):
/// `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"…"</ETag>[<ChecksumCRC32>…</ChecksumCRC32>]</Part>…</CompleteMultipartUpload>`.
public struct CompleteMultipartUploadRequest: Sendable, Hashable {
    /// One chosen part.
    public struct Part: Sendable, Hashable {
        /// The part number as sent (the store checks range and order).
        public var partNumber: Int
        /// The ETag as sent, quotes and all, white space trimmed.
        public var etag: String
        /// The part checksums the client states, by wire name (`CRC32`), base64.
        public var checksums: [String: String]

        /// Creates a part.
        public init(partNumber: Int, etag: String, checksums: [String: String] = [:]) {
            self.partNumber = partNumber
            self.etag = etag
            self.checksums = checksums
        }
    }

    /// The parts in request order.
    public var parts: [Part]

    /// Creates a request.
    public init(parts: [Part]) {
        self.parts = parts
    }

    /// Parses the body. Throws ``S3Error/malformedXML`` on bad XML, another root, no
    /// `Part`, or a `Part` without an integer `PartNumber` or without `ETag`, as S3 does.
    public static func parse(_ bytes: [UInt8]) throws -> CompleteMultipartUploadRequest {
        let root = try XMLTree.parseDocument(bytes, root: "CompleteMultipartUpload")
        let nodes = root.children("Part")
        guard !nodes.isEmpty else { throw S3Error.malformedXML }
        let parts = try nodes.map { node in
            guard let numberText = node.child("PartNumber")?.text.trimmingCharacters(in: .whitespacesAndNewlines),
                  let number = Int(numberText),
                  let etag = node.child("ETag")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
            else { throw S3Error.malformedXML }
            var checksums: [String: String] = [:]
            for child in node.children where child.name.hasPrefix("Checksum") {
                let name = String(child.name.dropFirst("Checksum".count))
                guard let algorithm = ChecksumAlgorithm(wireName: name) else { continue }
                checksums[algorithm.wireName] = child.text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return Part(partNumber: number, etag: etag, checksums: checksums)
        }
        return CompleteMultipartUploadRequest(parts: parts)
    }
}
