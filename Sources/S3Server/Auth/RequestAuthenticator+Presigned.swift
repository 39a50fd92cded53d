extension RequestAuthenticator {
    /// SigV4 presigned URL (sigv4-query-string-auth).
    func verifyPresignedV4(_ request: SigningRequest, now: Int64) throws -> AuthenticatedRequest {
        let parameters = request.queryParameters
        func value(_ name: String) -> String? { parameters.first { $0.name == name }?.value }

        guard let algorithm = value("X-Amz-Algorithm"), let credential = value("X-Amz-Credential"),
              let timestamp = value("X-Amz-Date"), let expiresText = value("X-Amz-Expires"),
              let signedText = value("X-Amz-SignedHeaders"), let signature = value("X-Amz-Signature") else {
            throw S3Error.authorizationQueryParametersError(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        }
        guard algorithm == SigV4.algorithm else {
            throw S3Error.authorizationQueryParametersError("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
        }
        guard let scope = CredentialScope(credential: credential) else {
            throw S3Error.authorizationQueryParametersError(
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        guard let requestTime = AmzDate.parseISO8601Basic(timestamp) else {
            throw S3Error.authorizationQueryParametersError(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        }
        guard let expires = Int64(expiresText) else {
            throw S3Error.authorizationQueryParametersError("X-Amz-Expires should be a number")
        }
        guard expires >= 0 else {
            throw S3Error.authorizationQueryParametersError("X-Amz-Expires must be non-negative")
        }
        guard expires <= RequestAuthenticator.maxPresignedExpiry else {
            throw S3Error.authorizationQueryParametersError(
                "X-Amz-Expires must be less than a week (in seconds) that is 604800")
        }
        guard Hex.isHex(signature, length: 64) else {
            throw S3Error.authorizationQueryParametersError("X-Amz-Signature must be 64 hexadecimal characters")
        }
        let signedHeaders = signedText.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard signedHeaders.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
            throw S3Error.authorizationQueryParametersError("X-Amz-SignedHeaders is malformed")
        }
        try checkScope(scope, timestamp: timestamp, presigned: true)

        // Valid up to and including X-Amz-Date + X-Amz-Expires; a URL valid for 0 seconds
        // has expired when it arrives, as S3 answers.
        if expires == 0 || now > requestTime + expires {
            throw S3Error.presignedRequestExpired(expiresSeconds: expires, expires: Self.iso8601Seconds(requestTime + expires),
                                                  serverTime: Self.iso8601Seconds(now))
        }
        try SignedHeaderCoverage.check(request, signedHeaders: signedHeaders)

        // Presigned URLs sign UNSIGNED-PAYLOAD unless the client sent a hash.
        let payloadHash = request.header("x-amz-content-sha256") ?? value("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD"
        guard let payload = PayloadHashMode(headerValue: payloadHash), !payload.isStreaming else {
            throw S3Error.invalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a valid sha256 value for presigned requests.",
                                          name: "x-amz-content-sha256", value: payloadHash)
        }

        let secret = try secret(for: scope.accessKeyId)
        let key = keyCache.signingKey(secret: secret, date: scope.date, region: scope.region, service: scope.service)
        try checkSignature(request, SignatureClaim(signedHeaders: signedHeaders, payloadHash: payloadHash,
                                                   timestamp: timestamp, scope: scope, signature: signature),
                           key: key, excludingQuery: ["X-Amz-Signature"])

        return AuthenticatedRequest(accessKeyId: scope.accessKeyId, method: .sigV4Presigned, payload: payload,
                                    scope: scope, chunkSigning: nil,
                                    securityToken: value("X-Amz-Security-Token") ?? request.header("x-amz-security-token"))
    }

    /// `2013-05-24T00:00:00Z`: the time format of S3's expiry error.
    static func iso8601Seconds(_ seconds: Int64) -> String {
        String(TimeFormat.iso8601(milliseconds: seconds * 1000).dropLast(".000Z".count)) + "Z"
    }
}
