extension RequestAuthenticator {
    /// SigV4 with the `Authorization` header (sig-v4-header-based-auth, sigv4-streaming).
    func verifyHeaderV4(_ request: SigningRequest, authorization: String, now: Int64) throws -> AuthenticatedRequest {
        let auth = try SigV4Authorization(headerValue: authorization)
        let scope = auth.credential

        // The request time: x-amz-date wins over Date.
        let timestamp: String
        let requestTime: Int64
        if let amzDate = request.header("x-amz-date") {
            guard let t = AmzDate.parseISO8601Basic(amzDate.trimmingSpaces().description) else {
                throw S3Error.accessDenied("AWS authentication requires a valid Date or x-amz-date header")
            }
            timestamp = String(amzDate.trimmingSpaces())
            requestTime = t
        } else if let date = request.header("date"), let t = AmzDate.parseHTTPDate(date) {
            timestamp = AmzDate.formatISO8601Basic(t)
            requestTime = t
        } else {
            throw S3Error.accessDenied("AWS authentication requires a valid Date or x-amz-date header")
        }
        try checkScope(scope, timestamp: timestamp, presigned: false)

        if abs(now - requestTime) > maxClockSkew {
            throw S3Error.requestTimeTooSkewed(requestTime: timestamp, serverTime: AmzDate.formatISO8601Basic(now))
        }

        guard let contentSHA = request.header("x-amz-content-sha256") else {
            throw S3Error.invalidRequest("Missing required header for this request: x-amz-content-sha256")
        }
        guard let payload = PayloadHashMode(headerValue: contentSHA) else {
            if contentSHA.hasPrefix("STREAMING-AWS4-ECDSA-P256-SHA256") {
                throw S3Error.notImplemented("SigV4a streaming payloads are not implemented")
            }
            throw S3Error.invalidArgument(
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
                name: "x-amz-content-sha256", value: contentSHA)
        }

        try SignedHeaderCoverage.check(request, signedHeaders: auth.signedHeaders)

        let secret = try secret(for: scope.accessKeyId)
        let key = keyCache.signingKey(secret: secret, date: scope.date, region: scope.region, service: scope.service)
        try checkSignature(request, SignatureClaim(signedHeaders: auth.signedHeaders, payloadHash: contentSHA,
                                                   timestamp: timestamp, scope: scope, signature: auth.signature),
                           key: key, excludingQuery: [])

        return AuthenticatedRequest(
            accessKeyId: scope.accessKeyId, method: .sigV4Header, payload: payload, scope: scope,
            chunkSigning: ChunkSigningContext(signingKey: key, timestamp: timestamp, scope: scope.scope,
                                              seedSignature: auth.signature.lowercased()),
            securityToken: request.header("x-amz-security-token"))
    }

    /// Checks the credential scope against the timestamp, region and service. Errors are
    /// `AuthorizationQueryParametersError` for a presigned URL, else
    /// `AuthorizationHeaderMalformed`. A region is checked only when one is configured
    /// (``region``); a wrong one names the expected region, as S3 does.
    func checkScope(_ scope: CredentialScope, timestamp: String, presigned: Bool) throws {
        func error(_ message: String) -> S3Error {
            presigned ? .authorizationQueryParametersError(message) : .authorizationHeaderMalformed(message)
        }
        guard timestamp.hasPrefix(scope.date) else {
            throw error("Invalid credential date \"\(scope.date)\". This date is not the same as X-Amz-Date: \"\(timestamp.prefix(8))\".")
        }
        if let region, scope.region != region {
            throw S3Error.wrongSigningRegion(scope.region, expected: region, presigned: presigned)
        }
        guard scope.service == "s3" else {
            throw error("Credential should be scoped to correct service: 's3'.")
        }
    }

    /// Builds the canonical request and compares signatures; throws SignatureDoesNotMatch
    /// (with the canonical request and string to sign) or MissingSecurityHeader.
    ///
    /// A raw `+` in the query is first read as a space (form encoding, which S3 accepts
    /// from clients that encode spaces that way); if that does not match, as a literal plus.
    func checkSignature(_ request: SigningRequest, _ claim: SignatureClaim, key: SigningKey,
                        excludingQuery: Set<String>) throws {
        let signedHeaders = claim.signedHeaders, scope = claim.scope, provided = claim.signature
        let headers = SigV4.canonicalHeaders(request, signedHeaders: signedHeaders)
        if let missing = headers.missing {
            throw S3Error.missingSecurityHeader(headerName: missing)
        }
        // S3 re-encodes each path segment once. botocore signs the path exactly as sent,
        // which is the same string for any path it produces; for a path with characters a
        // client left unencoded, the raw form is tried second.
        let canonicalURI = SigV4.canonicalURI(rawPath: request.rawPath)
        let rawURI = request.rawPath.isEmpty ? "/" : request.rawPath
        let uris = rawURI == canonicalURI ? [canonicalURI] : [canonicalURI, rawURI]
        var first: (canonical: String, stringToSign: String)?
        for uri in uris {
        for plusAsSpace in request.rawQuery.utf8.contains(UInt8(ascii: "+")) ? [true, false] : [true] {
            let query = SigV4.canonicalQuery(rawQuery: request.rawQuery, excluding: excludingQuery, plusAsSpace: plusAsSpace)
            let canonical = SigV4.canonicalRequest(method: request.method, canonicalURI: uri, canonicalQuery: query,
                                                   canonicalHeaders: headers.block, signedHeaders: signedHeaders,
                                                   payloadHash: claim.payloadHash)
            let stringToSign = SigV4.stringToSign(timestamp: claim.timestamp, scope: scope.scope, canonicalRequest: canonical)
            let expected = SigV4.signature(signingKey: key, stringToSign: stringToSign)
            if SigV4.constantTimeEquals(expected, provided) { return }
            if first == nil { first = (canonical, stringToSign) }
        }
        }
        throw S3Error.signatureDoesNotMatch(accessKeyId: scope.accessKeyId, stringToSign: first!.stringToSign,
                                            signatureProvided: provided, canonicalRequest: first!.canonical)
    }
}

/// What a SigV4 request says it signed, from its Authorization header or its presigned
/// query: checked by ``RequestAuthenticator/checkSignature(_:_:key:excludingQuery:)``.
struct SignatureClaim {
    let signedHeaders: [String]
    /// The payload hash the canonical request ends with (`x-amz-content-sha256`).
    let payloadHash: String
    /// `X-Amz-Date`.
    let timestamp: String
    let scope: CredentialScope
    /// The signature sent.
    let signature: String
}
