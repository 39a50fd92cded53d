import NIOCore
import NIOHTTP1

/// Serves the requests of one keep-alive connection, one at a time, in order.
struct HTTPConnection {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let handler: S3RequestHandler

    func run() async {
        let outputs = OutputBox()
        defer {
            // The channel is closed now: nothing of ours is being written any more.
            outputs.output?.closeUnwrittenRegions()
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                let parts = InboundParts(inbound.makeAsyncIterator())
                let output = ResponseOutput(outbound, sendfile: handler.configuration.tls == nil)
                outputs.output = output
                while true {
                    // Slow clients: the next request head must be complete within the
                    // header timeout (also how long an idle keep-alive connection stays).
                    let channel = self.channel.channel
                    let deadline = channel.eventLoop.scheduleTask(in: .seconds(handler.configuration.headerTimeoutSeconds)) {
                        channel.close(promise: nil)
                    }
                    let next = try await parts.next()
                    deadline.cancel()
                    guard let part = next else { return }
                    guard case .head(let head) = part else {
                        // Body or end without a head: the previous request's leftovers were
                        // already drained, so this cannot happen on a sane connection.
                        return
                    }
                    let keepAlive = try await serve(head, parts: parts, output: output)
                    if !keepAlive { return }
                }
            }
        } catch {
            handler.logger.debug("connection ended: \(error)")
        }
    }

    /// Answers the first request with 503 SlowDown and closes: the server is at its
    /// connection cap. Bounded by the idle timeout like any connection.
    func refuseBusy() async {
        // Bounded like any request head, so refused connections cannot pile up.
        let raw = channel.channel
        let deadline = raw.eventLoop.scheduleTask(in: .seconds(handler.configuration.headerTimeoutSeconds)) {
            raw.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            try await channel.executeThenClose { inbound, outbound in
                for try await part in inbound {
                    guard case .head(let head) = part else { continue }
                    let requestId = S3RequestHandler.makeRequestId()
                    let body = ByteBuffer(string: S3Error.slowDown.xmlDocument(resource: String(head.uri.prefix { $0 != "?" }),
                                                                               requestId: requestId))
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "application/xml")
                    headers.add(name: "Content-Length", value: "\(body.readableBytes)")
                    headers.add(name: "Connection", value: "close")
                    headers.add(name: "Retry-After", value: "1")
                    headers.add(name: "x-amz-request-id", value: requestId)
                    try await outbound.write(contentsOf: [
                        .head(HTTPResponseHead(version: head.version, status: .serviceUnavailable, headers: headers)),
                        .body(.byteBuffer(body)), .end(nil),
                    ])
                    return
                }
            }
        } catch {
            handler.logger.debug("refused connection ended: \(error)")
        }
    }

    /// Serves one request; returns whether the connection may carry another.
    private func serve(_ head: HTTPRequestHead, parts: InboundParts, output: ResponseOutput) async throws -> Bool {
        let expectsContinue = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        let body = RequestBody(parts: parts, output: output, expectsContinue: expectsContinue)
        let response = await handler.handle(head, body: body, remoteAddress: channel.channel.remoteAddress?.ipAddress)
        var keepAlive = head.isKeepAlive

        // Pitfall 11: a client that sent `Expect: 100-continue` has not sent its body yet.
        // On success it must still get `100 Continue` before the final response (botocore
        // misreads the connection otherwise); on an error it gets the error without a
        // `100 Continue`, and the connection closes because the body may or may not follow.
        if expectsContinue && !body.continueSent && !body.isComplete {
            if response.status.code < 400 {
                try await body.sendContinue()
            } else {
                keepAlive = false
            }
        }
        // A body the handler did not read (an early error) is drained if it is small, so
        // the client reads our answer instead of a reset; a large one closes the connection.
        if keepAlive && !body.isComplete {
            keepAlive = try await body.drain(upTo: 1 << 20)
        }
        // The request's framing broke: NIO has answered 400 and closes the connection;
        // a second response would violate HTTP/1.1 (and trips NIO's pipelining handler).
        if body.decoderFailed { return false }
        try await output.write(response, keepAlive: keepAlive, handler: handler)
        return keepAlive
    }
}

/// Holds the connection's response output past `executeThenClose`.
private final class OutputBox: @unchecked Sendable {
    var output: ResponseOutput?
}

/// The connection's inbound parts, shared by the connection loop and the request body
/// of the request being served (one reader at a time).
final class InboundParts: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator

    init(_ iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> HTTPServerRequestPart? {
        try await iterator.next()
    }
}
