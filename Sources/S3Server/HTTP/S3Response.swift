import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import NIOHTTP1
import ObjectStore

/// What a request handler answers: status, headers and a body that is either in memory
/// or an object's bytes still in their segments.
struct S3Response: Sendable {
    /// The body of a response.
    enum Body: Sendable {
        /// No body (HEAD, 204, 304); `Content-Length` is whatever the handler set, else 0.
        case none
        /// A body in memory (XML documents, errors).
        case bytes(ByteBuffer)
        /// An object's bytes, sent from its segments with sendfile, piece by piece. No
        /// piece goes out before it matched its checksum: the first `checkedPieces` were
        /// checked before the response was made (``reading(_:from:)``), ``ResponseOutput``
        /// checks the others just before sending them.
        case object(ObjectReader, checkedPieces: Int)

        /// The body of a GET of `reader`'s bytes. What can fail cleanly fails here,
        /// before any of the response is sent, so that the handler still answers with an
        /// error document (a damaged object is a 500 InternalError, never wrong bytes):
        /// an object up to ``ResponseOutput/sendfileThreshold`` is read into memory,
        /// checked as it is read; a larger one has its first piece checked, and the others
        /// are checked as they go out.
        static func reading(_ reader: ObjectReader, from store: ObjectStore) async throws -> Body {
            if let bytes = reader.prefetched { return .bytes(bytes) }
            guard let first = reader.pieces.first, UInt64(reader.range.count) > ResponseOutput.sendfileThreshold else {
                var body = ByteBufferAllocator().buffer(capacity: reader.range.count)
                try await store.stream(reader) { chunk in
                    var chunk = chunk
                    body.writeBuffer(&chunk)
                }
                return .bytes(body)
            }
            try await store.verify(first)
            return .object(reader, checkedPieces: 1)
        }
    }

    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: Body
    /// The S3 error code of an error response (`NoSuchKey`), for the access log: a HEAD
    /// answer has no body to carry it.
    var errorCode: String?
    /// Set by a fault rule: the body goes out slowly, or the connection ends partway.
    var shaping: BodyShaping?

    init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: Body = .none) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// An XML document response.
    static func xml(_ document: XMLWriter, status: HTTPResponseStatus = .ok) -> S3Response {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/xml")
        return S3Response(status: status, headers: headers, body: .bytes(document.buffer))
    }

    /// An XML document response.
    static func xml(_ document: String, status: HTTPResponseStatus = .ok) -> S3Response {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/xml")
        return S3Response(status: status, headers: headers, body: .bytes(ByteBuffer(string: document)))
    }
}

/// Writes responses to the connection. Head, body and end go out in one write where
/// the body is in memory (each async write flushes); object bodies of more than
/// ``sendfileThreshold`` bytes go out as `FileRegion`s, so the kernel copies them
/// straight from the segment files to the socket, each checked against its data
/// record's checksum just before it is handed over.
final class ResponseOutput: @unchecked Sendable {
    private let writer: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    /// The connection's channel, for what a fault rule asks: writes whose completion is
    /// awaited, and a reset.
    private let channel: Channel?
    /// Objects up to this size are read into memory and sent in one write.
    static let sendfileThreshold: UInt64 = 256 * 1024

    /// The last file regions handed to the channel: closed (if still open) when the
    /// connection ends, in case the channel dropped them unwritten.
    private var pending: [FileRegion] = []

    /// Whether object bodies go out by sendfile; not under TLS, whose encryption needs
    /// the bytes in memory: then they are read in 1 MiB chunks (checked as they are read)
    /// and written with backpressure.
    private let sendfile: Bool

    init(_ writer: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, sendfile: Bool = true, channel: Channel? = nil) {
        self.writer = writer
        self.sendfile = sendfile
        self.channel = channel
    }

    /// Closes the descriptors of regions the channel never wrote (connection gone).
    func closeUnwrittenRegions() {
        for region in pending { try? region.fileHandle.close() }
        pending.removeAll()
    }

    func writeContinue() async throws {
        try await writer.write(.head(HTTPResponseHead(version: .http1_1, status: .continue)))
    }

    /// The response's head, with `Content-Length` (`length`, unless the handler set it or
    /// the status has no body) and `Connection: close` when the connection ends after it.
    private static func head(_ response: S3Response, keepAlive: Bool, length: Int) -> HTTPServerResponsePart {
        var headers = response.headers
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let noBody = response.status == .noContent || response.status == .notModified
        if !noBody && !headers.contains(name: "Content-Length") {
            headers.add(name: "Content-Length", value: String(length))
        }
        return .head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))
    }

    func write(_ response: S3Response, keepAlive: Bool, handler: S3RequestHandler) async throws {
        if let shaping = response.shaping, let channel {
            try await writeShaped(response, shaping, keepAlive: keepAlive, channel: channel, handler: handler)
            return
        }
        func head(length: Int) -> HTTPServerResponsePart { Self.head(response, keepAlive: keepAlive, length: length) }
        switch response.body {
        case .none:
            try await writer.write(contentsOf: [head(length: 0), .end(nil)])
        case .bytes(let buffer):
            try await writer.write(contentsOf: [head(length: buffer.readableBytes), .body(.byteBuffer(buffer)), .end(nil)])
        case .object(let reader, _) where !sendfile || reader.isSealed:
            // Sealed bytes are opened on their way out: no sendfile for encrypted objects.
            try await writer.write(head(length: reader.range.count))
            try await handler.store.stream(reader) { chunk in try await writer.write(.body(.byteBuffer(chunk))) }
            try await writer.write(.end(nil))
        case .object(let reader, let checkedPieces):
            try await writer.write(head(length: reader.range.count))
            // Each piece is checked while the one before it is being sent: checking
            // reads the whole record, and doing it in turn with sending (read, check,
            // send, read, ...) held a 1 GiB GET to 40% of nginx's sendfile rate.
            let pieces = reader.pieces
            func startCheck(_ number: Int) -> Task<Void, Error>? {
                guard number < pieces.count else { return nil }
                let piece = pieces[number]
                return Task { try await handler.store.verify(piece) }
            }
            var check = startCheck(checkedPieces)
            defer { check?.cancel() }
            for (number, piece) in pieces.enumerated() {
                if number >= checkedPieces {
                    do {
                        try await check?.value
                    } catch {
                        // The head is out, so no error document can follow. Throwing ends
                        // the connection before the body is complete: the client sees fewer
                        // bytes than Content-Length (an error), never bytes that failed
                        // their check. The regions already handed over are closed as usual.
                        handler.logger.error("GET \(reader.info.bucket)/\(reader.info.key) cut short: \(error)")
                        throw error
                    }
                    check = startCheck(number + 1)
                }
                // The region's descriptor is closed by FileRegionCloser once written. A
                // write that fails, or that NIO drops because the channel went away,
                // never reaches it: close it here then (a second close of an already
                // closed handle throws without touching the descriptor).
                let region = try piece.makeFileRegion()
                do {
                    try await writer.write(.body(.fileRegion(region)))
                } catch {
                    try? region.fileHandle.close()
                    throw error
                }
                pending.append(region)
                if pending.count > 64 { pending.removeFirst(pending.count - 64) }
            }
            try await writer.write(.end(nil))
        }
    }
}

// MARK: - Faults

extension ResponseOutput {
    /// The connection ended on purpose partway through a body, as a fault rule asked.
    struct FaultEndedConnection: Error {}

    /// Ends the connection with a TCP reset: SO_LINGER with a zero timeout, then close.
    func resetConnection() async {
        guard let channel else { return }
        if let socket = channel as? SocketOptionProvider {
            try? await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }

    /// Writes a response as a fault rule shapes it: the body in small slices at most
    /// `bytesPerSecond`, and after `endAfterBytes` of it the connection is reset or closed.
    /// Each write is awaited on the channel itself (not the async writer), so the bytes
    /// before a close have left before it: a client cut short gets exactly that many.
    /// An object's bytes come through `store.stream`, checked as they are read, like under
    /// TLS; never sendfile.
    fileprivate func writeShaped(_ response: S3Response, _ shaping: BodyShaping, keepAlive: Bool, channel: Channel,
                                 handler: S3RequestHandler) async throws {
        let length: Int
        switch response.body {
        case .none: length = 0
        case .bytes(let buffer): length = buffer.readableBytes
        case .object(let reader, _): length = reader.range.count
        }
        try await channel.writeAndFlush(Self.head(response, keepAlive: keepAlive, length: length)).get()
        let sliceSize = shaping.bytesPerSecond.map { max(1, min(64 * 1024, $0 / 20)) } ?? 64 * 1024
        let start = ContinuousClock.now
        var sent = 0
        func send(_ chunk: ByteBuffer) async throws {
            var chunk = chunk
            while chunk.readableBytes > 0 {
                var size = min(sliceSize, chunk.readableBytes)
                let ending = shaping.endAfterBytes.map { sent + size >= $0 } ?? false
                if let end = shaping.endAfterBytes, ending { size = end - sent }
                if size > 0, let slice = chunk.readSlice(length: size) {
                    try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(slice))).get()
                    sent += size
                }
                if ending {
                    handler.logger.debug("fault: \(shaping.reset ? "reset" : "closed") the connection after \(sent) of \(length) body bytes")
                    if shaping.reset { await resetConnection() } else { try? await channel.close() }
                    throw FaultEndedConnection()
                }
                try await shaping.pace(sent: sent, since: start)
            }
        }
        switch response.body {
        case .none: break
        case .bytes(let buffer): try await send(buffer)
        case .object(let reader, _): try await handler.store.stream(reader) { chunk in try await send(chunk) }
        }
        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
    }
}
