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
