import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Serves the requests of one keep-alive connection, one at a time, in order, as its
/// ``ConnectionLifecycle`` decides.
///
/// Pipelined requests wait in the channel's inbound buffer (bounded by its back-pressure)
/// and are answered in order, so NIO's pipelining handler is not in the pipeline: it
/// stopped and restarted reading around every request, two `epoll_ctl` calls a request
/// (3% of a 4 KiB GET's server CPU).
struct HTTPConnection {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let handler: S3RequestHandler
    let lifecycle: ConnectionLifecycle

    func run() async {
        let outputs = OutputBox()
        defer {
            lifecycle.finish()
            // The channel is closed now: nothing of ours is being written any more.
            outputs.output?.closeUnwrittenRegions()
        }
        do {
            try await channel.executeThenClose { inbound, outbound in
                let parts = InboundParts(inbound.makeAsyncIterator())
                let output = ResponseOutput(outbound, sendfile: handler.configuration.tls == nil, channel: channel.channel)
                outputs.output = output
                // Formatted once: `inet_ntop` and its String per request were 1.3% of a
                // 4 KiB GET's server CPU.
                let remoteAddress = channel.channel.remoteAddress?.ipAddress
                while let part = try await parts.next() {
                    guard case .head(let head) = part else {
                        // Body or end without a head: the previous request's leftovers were
                        // already drained, so this cannot happen on a sane connection.
                        return
                    }
                    switch lifecycle.receivedHead(keepAlive: head.isKeepAlive) {
                    case .serve:
                        guard try await serve(head, parts: parts, output: output, remoteAddress: remoteAddress) else { return }
                    case .refuse:
                        try await refuse(head, outbound: outbound)
                        return
                    case .close:
                        return
                    }
                }
            }
        } catch {
            handler.logger.debug("connection ended: \(error)")
        }
    }

    /// Serves one request; returns whether the connection may carry another.
    private func serve(_ head: HTTPRequestHead, parts: InboundParts, output: ResponseOutput,
                       remoteAddress: String?) async throws -> Bool {
        let expectsContinue = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        let body = RequestBody(parts: parts, output: output, expectsContinue: expectsContinue)
        let response = await handler.handle(head, body: body, remoteAddress: remoteAddress)
        let prepare = lifecycle.responseReady(
            isError: response.status.code >= 400,
            body: .init(expectsContinue: expectsContinue, continueSent: body.continueSent, isComplete: body.isComplete))
        if prepare.sendContinue { try await body.sendContinue() }
        var drained = true
        if prepare.drain { drained = try await body.drain(upTo: HTTPConnectionStateMachine.maxDrainedBodyBytes) }
        switch lifecycle.bodySettled(decoderFailed: body.decoderFailed || body.wasReset, drainedCompletely: drained) {
        case .close:
            return false
        case .write(let keepAlive):
            try await output.write(response, keepAlive: keepAlive, handler: handler)
            return lifecycle.wroteResponse() == .awaitHead
        }
    }

    /// Answers a request on a connection over the server's cap: 503 SlowDown, closing.
    private func refuse(_ head: HTTPRequestHead, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
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
    }
}

/// Runs a connection's ``HTTPConnectionStateMachine`` on its channel: feeds it the
/// events of the connection's task, of its timer, of the idle handler and of a stopping
/// server, and carries out what it decides (closing the channel, re-arming the timer).
final class ConnectionLifecycle: Sendable {
    let channel: Channel
    private let machine: NIOLockedValueBox<HTTPConnectionStateMachine>
    /// The armed timer; nil once the connection is done.
    private let timer = NIOLockedValueBox<Scheduled<Void>?>(nil)

    /// Starts the header timeout of a connection that opened just now.
    init(channel: Channel, headerTimeout: TimeAmount) {
        self.channel = channel
        let now = channel.eventLoop.now
        machine = NIOLockedValueBox(HTTPConnectionStateMachine(now: now, headerTimeout: headerTimeout))
        arm(at: now + headerTimeout)
    }

    /// The server is at its connection cap: the first request is refused.
    func overCapacity() {
        machine.withLockedValue { $0.overCapacity() }
    }

    /// Where the connection is in its life.
    var state: HTTPConnectionStateMachine.State {
        machine.withLockedValue { $0.state }
    }

    func receivedHead(keepAlive: Bool) -> HTTPConnectionStateMachine.HeadAction {
        machine.withLockedValue { $0.receivedHead(keepAlive: keepAlive) }
    }

    func responseReady(isError: Bool, body: HTTPConnectionStateMachine.BodyProgress) -> HTTPConnectionStateMachine.BodyAction {
        machine.withLockedValue { $0.responseReady(isError: isError, body: body) }
    }

    func bodySettled(decoderFailed: Bool, drainedCompletely: Bool) -> HTTPConnectionStateMachine.WriteAction {
        machine.withLockedValue { $0.bodySettled(decoderFailed: decoderFailed, drainedCompletely: drainedCompletely) }
    }

    func wroteResponse() -> HTTPConnectionStateMachine.AfterResponse {
        let now = channel.eventLoop.now
        return machine.withLockedValue { $0.wroteResponse(now: now) }
    }

    /// The server is stopping: closes the connection now if it is between requests, else
    /// after the current response.
    func drain() {
        if machine.withLockedValue({ $0.drain() }) == .close { channel.close(promise: nil) }
    }

    /// Nothing was read or written for the idle timeout.
    func idleTimeout() {
        machine.withLockedValue { $0.idleTimeout() }
        channel.close(promise: nil)
    }

    /// The connection's task is done: the timer goes, so it does not hold the channel.
    func finish() {
        machine.withLockedValue { $0.closed() }
        timer.withLockedValue { $0?.cancel(); $0 = nil }
    }

    private func arm(at deadline: NIODeadline) {
        let scheduled = channel.eventLoop.scheduleTask(deadline: deadline) { [self] in fire() }
        timer.withLockedValue { $0 = scheduled }
        // Finished meanwhile (on another thread): undo.
        if machine.withLockedValue({ $0.state == .closed }) { timer.withLockedValue { $0?.cancel(); $0 = nil } }
    }

    private func fire() {
        let now = channel.eventLoop.now
        switch machine.withLockedValue({ $0.timerFired(now: now) }) {
        case .close: channel.close(promise: nil)
        case .rearm(let deadline): arm(at: deadline)
        case .stop: break
        }
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
