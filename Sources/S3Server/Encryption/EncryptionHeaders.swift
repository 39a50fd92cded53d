import Crypto
import Foundation
import NIOHTTP1
import ObjectStore

/// The server-side encryption a write asks for with its headers (or a POST form's
/// fields), checked as S3 checks them: one method, every part of it well formed.
enum RequestedEncryption: Equatable {
    /// No encryption header: the bucket's default applies, if it has one.
    case none
    /// SSE-S3 (`AES256`) or SSE-KMS (`aws:kms`, `aws:kms:dsse`), with the KMS key id,
    /// encryption context and bucket-key flag as sent.
    case managed(ObjectEncryption.Kind, kmsKeyID: String?, context: String?, bucketKey: Bool?)
    /// SSE-C.
    case customer(CustomerKey)

    static let header = "x-amz-server-side-encryption"
    static let keyIDHeader = "x-amz-server-side-encryption-aws-kms-key-id"
    static let contextHeader = "x-amz-server-side-encryption-context"
    static let bucketKeyHeader = "x-amz-server-side-encryption-bucket-key-enabled"

    /// The encryption `header` (a request header or form field, by lowercase name) asks for.
    init(_ header: (String) -> String?) throws {
        let method = header(Self.header)
        let customer = CustomerKey.headers.contains { header(CustomerKey.prefix + $0) != nil }
        if let method, customer {
            throw S3Error.invalidArgument(
                "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
                name: Self.header, value: method)
        }
        let keyID = header(Self.keyIDHeader), context = header(Self.contextHeader)
        if let method {
            guard let kind = ObjectEncryption.Kind.allCases.first(where: { $0 != .customer && $0.headerValue == method }) else {
                throw S3Error.invalidArgument("The encryption method specified is not supported", name: Self.header, value: method)
            }
            if !kind.isKMS, keyID != nil || context != nil {
                throw S3Error.invalidArgument(
                    "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                    name: keyID != nil ? Self.keyIDHeader : Self.contextHeader, value: keyID ?? context)
            }
            if let context { try Self.checkContext(context) }
            let bucketKey = try header(Self.bucketKeyHeader).map { value -> Bool in
                switch value.lowercased() {
                case "true": return true
                case "false": return false
                default: throw S3Error.invalidArgument("Invalid value for header", name: Self.bucketKeyHeader, value: value)
                }
            }
            self = .managed(kind, kmsKeyID: keyID, context: context, bucketKey: bucketKey)
            return
        }
        if keyID != nil || context != nil {
            throw S3Error.invalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                name: keyID != nil ? Self.keyIDHeader : Self.contextHeader, value: keyID ?? context)
        }
        if let key = try CustomerKey(header, prefix: CustomerKey.prefix) {
            self = .customer(key)
            return
        }
        self = .none
    }

    init(_ headers: HTTPHeaders) throws {
        try self.init { headers.first(name: $0) }
    }

    /// S3's rule for `x-amz-server-side-encryption-context`: base64 of a JSON object whose
    /// values are strings.
    static func checkContext(_ value: String) throws {
        guard let data = Data(base64Encoded: value),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object.values.allSatisfy({ $0 is String }) else {
            throw S3Error.invalidArgument(
                "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
                name: contextHeader, value: value)
        }
    }
}

/// An SSE-C key as a request presents it: `…-customer-algorithm` (AES256),
/// `…-customer-key` (base64 of 32 bytes) and `…-customer-key-MD5` (base64 MD5 of the key).
struct CustomerKey: Equatable {
    var key: EncryptionKey
    /// The `…-customer-key-MD5` value, echoed in responses.
    var keyMD5: String

    static let prefix = "x-amz-server-side-encryption-customer-"
    static let copySourcePrefix = "x-amz-copy-source-server-side-encryption-customer-"
    static let headers = ["algorithm", "key", "key-md5"]

    /// The key in the headers named `prefix` + algorithm / key / key-MD5; nil when none of
    /// them is there. S3 names `x-amz-server-side-encryption` in each of these errors.
    init?(_ header: (String) -> String?, prefix: String) throws {
        let algorithm = header(prefix + "algorithm"), encoded = header(prefix + "key"), md5 = header(prefix + "key-md5")
        guard algorithm != nil || encoded != nil || md5 != nil else { return nil }
        func invalid(_ message: String) -> S3Error {
            .invalidArgument(message, name: RequestedEncryption.header, value: "null")
        }
        guard let algorithm else {
            throw invalid("Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.")
        }
        guard let encoded else {
            throw invalid("Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.")
        }
        guard algorithm == "AES256" else { throw S3Error.invalidEncryptionAlgorithm(algorithm) }
        guard let md5 else {
            throw invalid("Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.")
        }
        guard let bytes = Data(base64Encoded: encoded) else {
            throw invalid("The secret key was invalid for the specified algorithm.")
        }
        // S3 checks the MD5 before the key's length.
        guard Data(Insecure.MD5.hash(data: bytes)).base64EncodedString() == md5 else {
            throw invalid("The calculated MD5 hash of the key did not match the hash that was provided.")
        }
        guard bytes.count == 32 else { throw invalid("The secret key was invalid for the specified algorithm.") }
        key = EncryptionKey(bytes: Array(bytes))
        keyMD5 = md5
    }

    init(_ headers: HTTPHeaders, prefix: String) throws {
        guard let key = try CustomerKey({ headers.first(name: $0) }, prefix: prefix) else {
            throw S3Error.invalidRequest("The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")
        }
        self = key
    }
}

extension ObjectHeaders {
    /// The encryption headers of a response about an object (or upload, or part)
    /// encrypted as `encryption`: the method, the KMS key ARN, the bucket-key flag when
    /// set, for SSE-C the algorithm and the key MD5 the request sent. The encryption
    /// context only where S3 returns it (PutObject, CopyObject, CreateMultipartUpload).
    static func addEncryption(_ encryption: ObjectEncryption?, customerKeyMD5: String?, context: Bool = false,
                              to headers: inout HTTPHeaders) {
        guard let encryption else { return }
        if encryption.kind == .customer {
            headers.add(name: CustomerKey.prefix + "algorithm", value: "AES256")
            if let customerKeyMD5 { headers.add(name: "x-amz-server-side-encryption-customer-key-MD5", value: customerKeyMD5) }
            return
        }
        headers.add(name: RequestedEncryption.header, value: encryption.kind.headerValue)
        if encryption.kind.isKMS, let arn = encryption.kmsKeyID {
            headers.add(name: RequestedEncryption.keyIDHeader, value: arn)
        }
        if encryption.kind.isKMS, encryption.bucketKeyEnabled {
            headers.add(name: RequestedEncryption.bucketKeyHeader, value: "true")
        }
        if context, let value = encryption.context { headers.add(name: RequestedEncryption.contextHeader, value: value) }
    }
}
