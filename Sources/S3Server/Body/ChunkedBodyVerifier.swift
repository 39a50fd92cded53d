import NIOCore

/// Reads an aws-chunked request body and checks everything it carries: each chunk's
/// SigV4 signature (chained from the seed signature), the trailer signature, the trailing
/// (or header) checksum against the decoded payload, and `x-amz-decoded-content-length`.
///
/// Feed it the raw body as it arrives; it returns the payload slices to store. Payload is
/// handed out before its chunk's signature has been checked (so nothing is buffered): the
/// caller must not commit the object until ``finish()`` has returned.
public struct ChunkedBodyVerifier: Sendable {
    /// What was verified, for the caller to store and echo back.
    public struct Summary: Sendable, Hashable {
        /// Total payload bytes.
        public var decodedLength: Int64
        /// The checksum that was sent (header or trailer) and verified, if any.
        public var checksum: VerifiedChecksum?
        /// Every trailer received, `x-amz-trailer-signature` included.
        public var trailers: [AWSChunkedDecoder.Trailer]
    }

    /// A checksum that matched the payload.
    public struct VerifiedChecksum: Sendable, Hashable {
        /// Its algorithm.
        public var algorithm: ChecksumAlgorithm
        /// The digest bytes.
        public var digest: [UInt8]
        /// The digest in base64, as S3 returns it.
        public var base64: String
    }

    private var decoder: AWSChunkedDecoder
    private let payload: PayloadHashMode
    private let signing: ChunkSigningContext?
    private let declaredTrailer: ChecksumAlgorithm?
    private let headerChecksum: (algorithm: ChecksumAlgorithm, digest: [UInt8])?
    private let decodedContentLength: Int64?

    private var checksum: ChecksumHasher?
    private var chunkHash = ChecksumHasher(.sha256)
    private var chunkSignature: String?
    private var previousSignature: String
    private var decodedLength: Int64 = 0
    private var summary: Summary?
    private var receivedTrailers: [AWSChunkedDecoder.Trailer] = []

    /// Sets up verification for one request.
    ///
    /// - Parameters:
    ///   - payload: the request's `x-amz-content-sha256` mode; must be a streaming mode.
    ///   - chunkSigning: from ``AuthenticatedRequest/chunkSigning``; required for the signed modes.
    ///   - trailerHeader: the `x-amz-trailer` header value, if sent.
    ///   - decodedContentLength: the `x-amz-decoded-content-length` header value, if sent.
    ///   - headerChecksums: the `x-amz-checksum-*` request headers, as (name, value).
    /// - Throws: ``S3Error`` `InvalidRequest` / `InvalidArgument` for inconsistent headers.
    public init(payload: PayloadHashMode, chunkSigning: ChunkSigningContext?, trailerHeader: String?,
                decodedContentLength: String?, headerChecksums: [(name: String, value: String)] = [],
                limits: AWSChunkedDecoder.Limits = .init()) throws {
        guard payload.isStreaming else {
            throw S3Error.invalidRequest("aws-chunked decoding needs a STREAMING-… x-amz-content-sha256")
        }
        if payload.hasChunkSignatures, chunkSigning == nil {
            throw S3Error.invalidRequest("Signed aws-chunked bodies need a header-signed request")
        }
        self.payload = payload
        self.signing = chunkSigning
        self.previousSignature = chunkSigning?.seedSignature ?? ""
        self.decoder = AWSChunkedDecoder(limits: limits)

        if let decodedContentLength {
            guard let value = Int64(decodedContentLength.trimmingSpaces()), value >= 0 else {
                throw S3Error.invalidArgument("x-amz-decoded-content-length is not a valid length",
                                              name: "x-amz-decoded-content-length", value: decodedContentLength)
            }
            self.decodedContentLength = value
        } else {
            self.decodedContentLength = nil
        }

        if let trailerHeader, !trailerHeader.trimmingSpaces().isEmpty {
            guard let algorithm = ChecksumAlgorithm(headerName: String(trailerHeader.trimmingSpaces())) else {
                throw S3Error.invalidRequest("The value specified in the x-amz-trailer header is not supported")
            }
            guard payload.hasTrailer else {
                throw S3Error.invalidRequest("x-amz-trailer was sent but x-amz-content-sha256 does not announce a trailer")
            }
            declaredTrailer = algorithm
        } else {
            declaredTrailer = nil
        }

        var fromHeader: (ChecksumAlgorithm, [UInt8])?
        for (name, value) in headerChecksums {
            guard let algorithm = ChecksumAlgorithm(headerName: name) else { continue }
            guard fromHeader == nil, declaredTrailer == nil else {
                throw S3Error.invalidRequest("Expecting a single x-amz-checksum- header")
            }
            guard let digest = ChecksumHasher.decodeHeaderValue(value, for: algorithm) else {
                throw S3Error.invalidRequest("Value for \(algorithm.headerName) header is invalid.")
            }
            fromHeader = (algorithm, digest)
        }
        headerChecksum = fromHeader.map { (algorithm: $0.0, digest: $0.1) }
        if let algorithm = declaredTrailer ?? headerChecksum?.algorithm {
            checksum = ChecksumHasher(algorithm)
        }
    }

    /// Convenience: reads the relevant headers of an authenticated request.
    public init(request: SigningRequest, authenticated: AuthenticatedRequest,
                limits: AWSChunkedDecoder.Limits = .init()) throws {
        try self.init(payload: authenticated.payload, chunkSigning: authenticated.chunkSigning,
                      trailerHeader: request.header("x-amz-trailer"),
                      decodedContentLength: request.header("x-amz-decoded-content-length"),
                      headerChecksums: request.headers.filter { $0.name.lowercased().hasPrefix("x-amz-checksum-") },
                      limits: limits)
    }

    /// Whether the body has been fully read and verified.
    public var isComplete: Bool { summary != nil }

    /// Consumes the readable bytes of `buffer`; returns the payload slices in them.
    public mutating func feed(_ buffer: inout ByteBuffer) throws -> [ByteBuffer] {
        let actions: [AWSChunkedDecoder.Action]
        do {
            actions = try decoder.feed(&buffer)
        } catch {
            throw error.s3Error
        }
        return try handle(actions)
    }

    /// Call at the end of the request body; returns what was verified or throws the S3
    /// error to answer with (`IncompleteBody`, `SignatureDoesNotMatch`, `BadDigest`, …).
    public mutating func finish() throws -> Summary {
        let actions: [AWSChunkedDecoder.Action]
        do {
            actions = try decoder.finish()
        } catch {
            throw error.s3Error
        }
        _ = try handle(actions)
        guard let summary else { throw S3Error.incompleteBody() }
        return summary
    }

    private mutating func handle(_ actions: [AWSChunkedDecoder.Action]) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        for action in actions {
            switch action {
            case .chunkStarted(_, let signature):
                if payload.hasChunkSignatures {
                    guard let signature else {
                        throw S3Error.chunkSignatureDoesNotMatch("A chunk of the aws-chunked body has no chunk-signature.")
                    }
                    chunkSignature = signature
                    chunkHash = ChecksumHasher(.sha256)
                }
            case .data(let slice):
                decodedLength += Int64(slice.readableBytes)
                if let declared = decodedContentLength, decodedLength > declared {
                    throw S3Error.incompleteBody("The aws-chunked body holds more data than x-amz-decoded-content-length.")
                }
                if payload.hasChunkSignatures {
                    chunkHash.update(slice)
                }
                checksum?.update(slice)
                out.append(slice)
            case .chunkEnded:
                if payload.hasChunkSignatures, let signing, let provided = chunkSignature {
                    let expected = signing.chunkSignature(previousSignature: previousSignature,
                                                          chunkSHA256: Hex.encode(chunkHash.finalize()))
                    guard SigV4.constantTimeEquals(expected, provided) else {
                        throw S3Error.chunkSignatureDoesNotMatch(
                            "The chunk signature we calculated does not match the signature you provided.")
                    }
                    previousSignature = provided
                    chunkSignature = nil
                }
            case .trailers(let trailers):
                try checkTrailers(trailers)
                receivedTrailers = trailers
            case .end:
                if let declared = decodedContentLength, declared != decodedLength {
                    throw S3Error.incompleteBody()
                }
                let verified = try checkChecksum(trailers: receivedTrailers)
                summary = Summary(decodedLength: decodedLength, checksum: verified, trailers: receivedTrailers)
            }
        }
        return out
    }

    private func checkTrailers(_ trailers: [AWSChunkedDecoder.Trailer]) throws {
        let signature = trailers.first { $0.name == "x-amz-trailer-signature" }
        for trailer in trailers where trailer.name != "x-amz-trailer-signature" {
            guard let declaredTrailer, trailer.name == declaredTrailer.headerName else {
                throw S3Error.invalidRequest("The trailing header \(trailer.name) was not declared in x-amz-trailer.")
            }
        }
        if let declaredTrailer, !trailers.contains(where: { $0.name == declaredTrailer.headerName }) {
            throw S3Error.malformedTrailerError(
                "The request contained trailing data that was not well-formed or did not conform to our published schema: \(declaredTrailer.headerName) was declared in x-amz-trailer but not sent.")
        }
        if payload == .streamingSignedTrailer, let signing {
            guard let signature else {
                throw S3Error.malformedTrailerError("The trailer signature (x-amz-trailer-signature) is missing.")
            }
            let expected = signing.trailerSignature(previousSignature: previousSignature,
                                                    trailers: trailers.map { ($0.name, $0.value) })
            guard SigV4.constantTimeEquals(expected, signature.value) else {
                throw S3Error.chunkSignatureDoesNotMatch(
                    "The trailer signature we calculated does not match the signature you provided.")
            }
        }
    }

    private func checkChecksum(trailers: [AWSChunkedDecoder.Trailer]) throws -> VerifiedChecksum? {
        guard let checksum else { return nil }
        let algorithm = checksum.algorithm
        let provided: [UInt8]
        if let headerChecksum {
            provided = headerChecksum.digest
        } else if let trailer = trailers.first(where: { $0.name == algorithm.headerName }) {
            guard let digest = ChecksumHasher.decodeHeaderValue(trailer.value, for: algorithm) else {
                throw S3Error.invalidRequest("Value for \(algorithm.headerName) trailing header is invalid.")
            }
            provided = digest
        } else {
            return nil
        }
        let computed = checksum.finalize()
        guard SigV4.constantTimeEquals(computed, provided) else {
            throw S3Error.badDigest("The \(algorithm.wireName) you specified did not match the calculated checksum.")
        }
        return VerifiedChecksum(algorithm: algorithm, digest: computed, base64: checksum.finalizeBase64())
    }
}
