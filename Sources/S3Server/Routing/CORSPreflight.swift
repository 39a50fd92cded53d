import Foundation

/// A CORS preflight (`OPTIONS` on a bucket or an object): what the browser asks to be
/// allowed. Browsers send it without credentials, so it is not an ``S3Operation``.
struct CORSPreflight: Sendable {
    /// `Origin`.
    let origin: String
    /// `Access-Control-Request-Method`.
    let method: String
    /// `Access-Control-Request-Headers`, split and trimmed.
    let requestedHeaders: [String]
    let bucket: String
    /// Whether it is about an object (else the bucket): the error documents say which.
    let isObject: Bool

    /// - Throws: `400 BadRequest` without an Origin, a requested method or a bucket;
    ///   InvalidBucketName.
    init(_ request: S3Request) throws {
        guard let origin = request.header("origin") else {
            throw S3Error.badRequest("Insufficient information. Origin request header needed.")
        }
        guard let method = request.header("access-control-request-method") else {
            throw S3Error.badRequest("Invalid Access-Control-Request-Method: null")
        }
        guard let bucket = request.bucket else {
            throw S3Error.badRequest("Insufficient information. A bucket is needed for a CORS request.")
        }
        guard (1...63).contains(bucket.utf8.count) else { throw S3Error.invalidBucketName(bucket: bucket) }
        self.origin = origin
        self.method = method
        self.bucket = bucket
        isObject = request.key != nil
        requestedHeaders = request.headers["access-control-request-headers"].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `BUCKET` or `OBJECT`, as S3's CORS errors name the resource.
    var resourceType: String { isObject ? "OBJECT" : "BUCKET" }
}
