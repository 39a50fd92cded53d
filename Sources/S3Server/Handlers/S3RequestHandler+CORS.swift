import Foundation
import NIOCore
import NIOHTTP1
import ObjectStore

/// CORS as browsers see it: the preflight `OPTIONS` request, and the CORS headers of
/// actual cross-origin requests, both from the bucket's CORS configuration (which
/// Put/Get/DeleteBucketCors keep, in S3RequestHandler+BucketConfiguration.swift).
extension S3RequestHandler {
    /// What S3 answers with `Vary` on CORS responses: the answer depends on these headers.
    static let corsVary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

    /// The bucket's CORS configuration (from the settings cache); nil when it has none.
    /// NoSuchBucket.
    func corsConfiguration(bucket: String) async throws -> CORSConfiguration? {
        guard let settings = try await bucketSettings(bucket) else { throw S3Error.noSuchBucket(bucket: bucket) }
        return settings.cors
    }

    /// Answers a preflight `OPTIONS` request (S3 "OPTIONS object"). Browsers send it
    /// without credentials, so it is answered before any signature check; it reveals
    /// only what the bucket's CORS configuration publishes.
    func preflight(_ preflight: CORSPreflight) async throws -> S3Response {
        guard let configuration = try await corsConfiguration(bucket: preflight.bucket) else {
            throw S3Error.accessForbidden("CORSResponse: CORS is not enabled for this bucket.",
                                          method: preflight.method, resourceType: preflight.resourceType)
        }
        let requested = preflight.requestedHeaders
        guard let rule = configuration.firstMatch(origin: preflight.origin, method: preflight.method,
                                                  requestHeaders: requested) else {
            throw S3Error.accessForbidden(
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                method: preflight.method, resourceType: preflight.resourceType)
        }
        var response = S3Response()
        Self.addCORSHeaders(rule, origin: preflight.origin, to: &response.headers)
        if !requested.isEmpty {
            response.headers.add(name: "Access-Control-Allow-Headers", value: requested.joined(separator: ", "))
        }
        return response
    }

    /// Adds the CORS headers to the response of an actual (non-preflight) request that
    /// carries an `Origin` header matching a rule of the bucket's configuration, error
    /// responses included (S3 adds them to those too, so a page can read the error).
    /// A bucket that does not exist or has no (matching) configuration adds nothing.
    func addCORSHeaders(for request: S3Request, to response: inout S3Response) async {
        guard let origin = request.header("origin"), let bucket = request.bucket,
              (1...63).contains(bucket.utf8.count), !(bucket == Self.adminPath && !request.virtualHosted),
              slot.store != nil else { return }
        // S3 matches a request that names the method it stands for (a browser's actual
        // request after a preflight may carry it) against that method, not its own.
        let method = request.header("access-control-request-method")?.trimmingCharacters(in: .whitespaces) ?? request.method.rawValue
        guard let configuration = try? await corsConfiguration(bucket: bucket),
              let rule = configuration.firstMatch(origin: origin, method: method) else { return }
        Self.addCORSHeaders(rule, origin: origin, to: &response.headers)
    }

    static func addCORSHeaders(_ rule: CORSConfiguration.Rule, origin: String, to headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: "Access-Control-Allow-Origin", value: rule.allowsAnyOrigin ? "*" : origin)
        headers.replaceOrAdd(name: "Access-Control-Allow-Methods", value: rule.allowedMethods.joined(separator: ", "))
        if !rule.exposeHeaders.isEmpty {
            headers.replaceOrAdd(name: "Access-Control-Expose-Headers", value: rule.exposeHeaders.joined(separator: ", "))
        }
        if let maxAge = rule.maxAgeSeconds {
            headers.replaceOrAdd(name: "Access-Control-Max-Age", value: String(maxAge))
        }
        if !rule.allowsAnyOrigin {
            headers.replaceOrAdd(name: "Access-Control-Allow-Credentials", value: "true")
        }
        headers.replaceOrAdd(name: "Vary", value: corsVary)
    }
}
