import Foundation

extension RequestAuthenticator {
    /// SigV2 `Authorization: AWS AKID:signature`.
    func verifyHeaderV2(_ request: SigningRequest, authorization: String, now: Int64, bucket: String?) throws -> AuthenticatedRequest {
        let credentials = authorization.dropFirst(4)
        guard let colon = credentials.lastIndex(of: ":") else {
            throw S3Error.invalidArgument("AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                                          name: "Authorization", value: authorization)
        }
        let accessKeyId = String(credentials[..<colon]).trimmingCharacters(in: .whitespaces)
        let provided = String(credentials[credentials.index(after: colon)...]).trimmingCharacters(in: .whitespaces)

        // x-amz-date takes precedence; then the Date position is signed empty.
        let dateLine: String
        let requestTime: Int64?
        if let amzDate = request.header("x-amz-date") {
            dateLine = ""
            requestTime = AmzDate.parseHTTPDate(amzDate) ?? AmzDate.parseISO8601Basic(amzDate)
        } else if let date = request.header("date") {
            dateLine = String(date.trimmingSpaces())
            requestTime = AmzDate.parseHTTPDate(date)
        } else {
            throw S3Error.accessDenied("AWS authentication requires a valid Date or x-amz-date header")
        }
        guard let requestTime else {
            throw S3Error.accessDenied("AWS authentication requires a valid Date or x-amz-date header")
        }
        if abs(now - requestTime) > maxClockSkew {
            throw S3Error.requestTimeTooSkewed(requestTime: AmzDate.formatISO8601Basic(requestTime),
                                               serverTime: AmzDate.formatISO8601Basic(now))
        }
        let secret = try secret(for: accessKeyId)
        func stringToSign(dateLine: String, headers: [(name: String, value: String)], resource: String) -> String {
            SigV2.stringToSign(
                method: request.method,
                contentMD5: request.header("content-md5").map { String($0.trimmingSpaces()) } ?? "",
                contentType: request.header("content-type").map { String($0.trimmingSpaces()) } ?? "",
                dateOrExpires: dateLine,
                amzHeaders: SigV2.canonicalizedAmzHeaders(headers),
                resource: resource)
        }
        let resources = Self.v2Resources(request, bucket: bucket)
        var candidates = resources.map { stringToSign(dateLine: dateLine, headers: request.headers, resource: $0) }
        // The RESTAuthentication text says an x-amz-date request signs an empty Date line
        // and x-amz-date among the amz headers; its own DELETE example instead puts the
        // x-amz-date value in the Date position. Accept both.
        if let amzDate = request.header("x-amz-date") {
            let headers = request.headers.filter { $0.name.lowercased() != "x-amz-date" }
            candidates += resources.map { stringToSign(dateLine: String(amzDate.trimmingSpaces()), headers: headers, resource: $0) }
        }
        try compareV2(provided: provided, secret: secret, candidates: candidates, accessKeyId: accessKeyId)
        return AuthenticatedRequest(accessKeyId: accessKeyId, method: .sigV2Header,
                                    payload: v2Payload(request), scope: nil, chunkSigning: nil,
                                    securityToken: request.header("x-amz-security-token"))
    }

    /// SigV2 presigned URL: `AWSAccessKeyId`, `Expires`, `Signature` in the query.
    func verifyPresignedV2(_ request: SigningRequest, now: Int64, bucket: String?) throws -> AuthenticatedRequest {
        let parameters = request.queryParameters
        func value(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
        guard let accessKeyId = value("AWSAccessKeyId"), var provided = value("Signature"),
              let expiresText = value("Expires") else {
            throw S3Error.accessDenied("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        }
        guard let expires = Int64(expiresText) else {
            throw S3Error.accessDenied("Invalid date (should be seconds since epoch): \(expiresText)")
        }
        if now > expires {
            throw S3Error.accessDenied("Request has expired")
        }
        // A client that left '+' unescaped in the base64 signature sent it as a form space.
        provided = provided.replacingOccurrences(of: " ", with: "+")

        // botocore moves signed x-amz-*, Content-MD5 and Content-Type headers into the query.
        let amzQuery = parameters.filter { $0.name.lowercased().hasPrefix("x-amz-") }
        let secret = try secret(for: accessKeyId)
        let candidates = Self.v2Resources(request, bucket: bucket).map { resource in SigV2.stringToSign(
            method: request.method,
            contentMD5: (request.header("content-md5") ?? value("content-md5")).map { String($0.trimmingSpaces()) } ?? "",
            contentType: (request.header("content-type") ?? value("content-type")).map { String($0.trimmingSpaces()) } ?? "",
            dateOrExpires: expiresText,
            amzHeaders: SigV2.canonicalizedAmzHeaders(request.headers + amzQuery),
            resource: resource)
        }
        try compareV2(provided: provided, secret: secret, candidates: candidates, accessKeyId: accessKeyId)
        return AuthenticatedRequest(accessKeyId: accessKeyId, method: .sigV2Presigned,
                                    payload: v2Payload(request), scope: nil, chunkSigning: nil,
                                    securityToken: value("x-amz-security-token") ?? request.header("x-amz-security-token"))
    }

    /// The CanonicalizedResource forms a SigV2 signature may cover. AWS's text gives
    /// `/bucket` for a path-style bucket request; botocore's HmacV1 signs `/bucket/` for
    /// the same request. Both are accepted.
    static func v2Resources(_ request: SigningRequest, bucket: String?) -> [String] {
        let primary = SigV2.canonicalizedResource(rawPath: request.rawPath, rawQuery: request.rawQuery,
                                                  virtualHostedBucket: bucket)
        let path = request.rawPath
        guard bucket == nil, path.count > 1, !path.dropFirst().contains("/") else { return [primary] }
        return [primary, SigV2.canonicalizedResource(rawPath: path + "/", rawQuery: request.rawQuery, virtualHostedBucket: nil)]
    }

    /// Succeeds if the signature matches any of the candidate strings to sign; otherwise
    /// reports the first (the documented form).
    private func compareV2(provided: String, secret: String, candidates: [String], accessKeyId: String) throws {
        let providedBytes = Data(base64Encoded: provided).map(Array.init) ?? Array(provided.utf8)
        for stringToSign in candidates {
            let expected = Array(Data(base64Encoded: SigV2.signature(secret: secret, stringToSign: stringToSign))!)
            if SigV4.constantTimeEquals(providedBytes, expected) { return }
        }
        throw S3Error.signatureDoesNotMatch(accessKeyId: accessKeyId, stringToSign: candidates[0],
                                            signatureProvided: provided, canonicalRequest: "")
    }

    private func v2Payload(_ request: SigningRequest) -> PayloadHashMode {
        if let value = request.header("x-amz-content-sha256"), let mode = PayloadHashMode(headerValue: value),
           !mode.isStreaming {
            return mode
        }
        return .unsignedPayload
    }
}
