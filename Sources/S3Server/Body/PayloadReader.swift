import NIOCore

/// Reads a request's payload as the client meant it, whatever the framing: plain bytes
/// (Content-Length or `Transfer-Encoding: chunked`, which NIO already removed) or an
/// aws-chunked body (chunk framing removed, chunk and trailer signatures checked).
///
/// On the way it computes everything the request asks to be verified: the SHA-256 of
/// `x-amz-content-sha256` when that is a real hash (not the literal `UNSIGNED-PAYLOAD` or
/// `STREAMING-…`: docs/S3-NOTES.md, "x-amz-content-sha256"), any `x-amz-checksum-*`
/// header or trailer, and the checksum an `x-amz-sdk-checksum-algorithm` asks the server
/// to compute. Payload is handed out before it is verified: nothing may be committed
/// until ``finish()`` returned.
struct PayloadReader {
    /// What the finished payload was checked against.
    struct Verified {
        /// Payload bytes.
        var length: Int64
        /// Checksums to store with the object, by wire name (`CRC32`), base64.
        var checksums: [String: String]
    }

    private let body: RequestBody
    private var chunked: ChunkedBodyVerifier?
    private var pending: [ByteBuffer] = []
    private var sha256: (expected: String, hasher: ChecksumHasher)?
    private var headerChecksum: (algorithm: ChecksumAlgorithm, digest: [UInt8], hasher: ChecksumHasher)?
    private var computed: ChecksumHasher?
    /// The ``init(request:signing:auth:body:alsoCompute:checksumHeadersDescribeBody:)``
    /// `alsoCompute` checksum, when the request carries no value of it.
    private var extra: ChecksumHasher?
    private var length: Int64 = 0
    private var ended = false

    /// - Parameters:
    ///   - alsoCompute: a checksum the payload must end up with even if the request
    ///     neither sends nor asks for it (an UploadPart to an upload created with a checksum
    ///     algorithm): computed on the way unless the request supplies it.
    ///   - checksumHeadersDescribeBody: false where `x-amz-checksum-*` headers describe
    ///     something else than this body (on CompleteMultipartUpload they are the whole
    ///     object's checksum): they are then left to the caller.
    init(request: S3Request, signing: SigningRequest, auth: AuthenticatedRequest, body: RequestBody,
         alsoCompute: ChecksumAlgorithm? = nil, checksumHeadersDescribeBody: Bool = true) throws {
        self.body = body
        var headerChecksums: [(algorithm: ChecksumAlgorithm, value: String)] = []
        for (name, value) in request.headers where checksumHeadersDescribeBody && name.lowercased().hasPrefix("x-amz-checksum-") {
            if let algorithm = ChecksumAlgorithm(headerName: name) {
                headerChecksums.append((algorithm, value))
            } else if name.lowercased() != "x-amz-checksum-algorithm" && name.lowercased() != "x-amz-checksum-type" {
                throw S3Error.invalidRequest("The checksum header \(name) is not supported")
            }
        }
        let requested = request.header("x-amz-sdk-checksum-algorithm") ?? request.header("x-amz-checksum-algorithm")
        var requestedAlgorithm: ChecksumAlgorithm?
        if let requested {
            guard let algorithm = ChecksumAlgorithm(wireName: requested) else {
                throw S3Error.invalidRequest("Checksum algorithm \(requested) is not supported")
            }
            requestedAlgorithm = algorithm
        }

        if auth.payload.isStreaming {
            chunked = try ChunkedBodyVerifier(request: signing, authenticated: auth)
        } else {
            if case .sha256(let hex) = auth.payload {
                sha256 = (hex, ChecksumHasher(.sha256))
            }
            if headerChecksums.count > 1 {
                throw S3Error.invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
            }
            if let (algorithm, value) = headerChecksums.first {
                guard let digest = ChecksumHasher.decodeHeaderValue(value, for: algorithm) else {
                    throw S3Error.invalidRequest("Value for \(algorithm.headerName) header is invalid.")
                }
                headerChecksum = (algorithm, digest, ChecksumHasher(algorithm))
            }
        }
        // A checksum the client asked for but did not send (e.g. a presigned PUT): computed here.
        if let requestedAlgorithm, headerChecksums.isEmpty, request.header("x-amz-trailer") == nil {
            computed = ChecksumHasher(requestedAlgorithm)
        }
        if let alsoCompute {
            let trailer = request.header("x-amz-trailer").flatMap { ChecksumAlgorithm(headerName: String($0.trimmingSpaces())) }
            let supplied = headerChecksums.contains { $0.algorithm == alsoCompute } || trailer == alsoCompute
                || computed?.algorithm == alsoCompute
            if !supplied { extra = ChecksumHasher(alsoCompute) }
        }
    }

    /// The next piece of payload, or nil at its end (then call ``finish()``).
    mutating func next() async throws -> ByteBuffer? {
        while pending.isEmpty {
            guard !ended, var raw = try await body.next() else {
                ended = true
                return nil
            }
            if chunked != nil {
                pending = try chunked!.feed(&raw)
            } else {
                pending = [raw]
            }
        }
        let piece = pending.removeFirst()
        length += Int64(piece.readableBytes)
        piece.withUnsafeReadableBytes { bytes in
            sha256?.hasher.update(bytes)
            headerChecksum?.hasher.update(bytes)
            computed?.update(bytes)
            extra?.update(bytes)
        }
        return piece
    }

    /// Checks the whole payload; throws the S3 error to answer with on any mismatch.
    mutating func finish() throws -> Verified {
        precondition(ended, "finish before the payload was read")
        var checksums: [String: String] = [:]
        if chunked != nil {
            let summary = try chunked!.finish()
            if let checksum = summary.checksum {
                checksums[checksum.algorithm.wireName] = checksum.base64
            }
        }
        if let sha256 {
            let actual = Hex.encode(sha256.hasher.finalize())
            guard actual == sha256.expected else {
                throw S3Error.xAmzContentSHA256Mismatch(clientComputed: sha256.expected, s3Computed: actual)
            }
        }
        if let headerChecksum {
            guard SigV4.constantTimeEquals(headerChecksum.hasher.finalize(), headerChecksum.digest) else {
                throw S3Error.badDigest("The \(headerChecksum.algorithm.wireName) you specified did not match the calculated checksum.")
            }
            checksums[headerChecksum.algorithm.wireName] = headerChecksum.hasher.finalizeBase64()
        }
        if let computed {
            checksums[computed.algorithm.wireName] = computed.finalizeBase64()
        }
        if let extra, checksums[extra.algorithm.wireName] == nil {
            checksums[extra.algorithm.wireName] = extra.finalizeBase64()
        }
        return Verified(length: length, checksums: checksums)
    }
}
