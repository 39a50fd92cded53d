import NIOCore
import NIOHTTP1

/// The body of the request being served, pulled from the connection part by part: the
/// next part is read from the socket only when the handler asks for it, which is the
/// backpressure that keeps a 5 GiB upload at flat memory.
///
/// Asking for the first part answers `Expect: 100-continue` (the client waits for that
/// before it sends the body).
final class RequestBody: @unchecked Sendable {
    private let parts: InboundParts
    private let output: ResponseOutput
    private let expectsContinue: Bool
    /// Whether `100 Continue` has been written.
    private(set) var continueSent = false
    /// Whether the request's end has been read.
    private(set) var isComplete = false
    /// Body bytes read so far (as received, before any aws-chunked decoding).
    private(set) var bytesRead: Int64 = 0
    /// Whether reading the body failed in the HTTP decoder (malformed chunked framing, or
    /// the client closed mid-body). NIO's protocol error handler has then already answered
    /// 400 and is closing the connection: no second response may be written.
    private(set) var decoderFailed = false
    /// Whether a fault rule reset the connection while the body came in: nothing more can
    /// be written to it either.
    private(set) var wasReset = false

    /// Set by a fault rule before the operation reads the body: reading is slowed to its
    /// rate, and after its `endAfterBytes` the connection is reset and the body fails as if
    /// the client had gone away (so an upload commits nothing).
    var shaping: BodyShaping? {
        didSet { shapingStart = (.now, bytesRead) }
    }
    private var shapingStart: (time: ContinuousClock.Instant, bytes: Int64) = (.now, 0)

    init(parts: InboundParts, output: ResponseOutput, expectsContinue: Bool) {
        self.parts = parts
        self.output = output
        self.expectsContinue = expectsContinue
    }

    /// Writes the interim `100 Continue` response, once.
    func sendContinue() async throws {
        guard expectsContinue, !continueSent else { return }
        continueSent = true
        try await output.writeContinue()
    }

    /// The next piece of the body, or nil at its end.
    /// - Throws: `IncompleteBody` if the client closed the connection mid-body.
    func next() async throws -> ByteBuffer? {
        guard !isComplete else { return nil }
        try await sendContinue()
        while true {
            let next: HTTPServerRequestPart?
            do {
                next = try await parts.next()
            } catch {
                decoderFailed = true
                throw S3Error.incompleteBody()
            }
            guard let part = next else {
                throw S3Error.incompleteBody()
            }
            switch part {
            case .body(let buffer):
                bytesRead += Int64(buffer.readableBytes)
                if let shaping { try await shape(shaping) }
                if buffer.readableBytes > 0 { return buffer }
            case .end:
                isComplete = true
                return nil
            case .head:
                throw S3Error.incompleteBody()
            }
        }
    }

    private func shape(_ shaping: BodyShaping) async throws {
        let received = Int(bytesRead - shapingStart.bytes)
        if let end = shaping.endAfterBytes, received >= end {
            wasReset = true
            await output.resetConnection()
            throw S3Error.incompleteBody()
        }
        try await shaping.pace(sent: received, since: shapingStart.time)
    }

    /// Reads and drops the rest of the body, up to `limit` bytes; returns whether the
    /// body ended within that (false: the connection must close).
    func drain(upTo limit: Int64) async throws -> Bool {
        let start = bytesRead
        do {
            while try await next() != nil {
                if bytesRead - start > limit { return false }
            }
            return true
        } catch {
            return false
        }
    }
}
