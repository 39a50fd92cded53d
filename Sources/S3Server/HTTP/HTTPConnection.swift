import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization

/// Serves the requests of one keep-alive connection, one at a time, in order.
///
/// Pipelined requests wait in the channel's inbound buffer (bounded by its back-pressure)
/// and are answered in order, so NIO's pipelining handler is not in the pipeline: it
/// stopped and restarted reading around every request, two `epoll_ctl` calls a request
/// (3% of a 4 KiB GET's server CPU). Stopping gracefully is ``ConnectionState``'s job.
struct HTTPConnection {
    let channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    let handler: S3RequestHandler
    var state: ConnectionState? = nil

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
                // Formatted once: `inet_ntop` and its String per request were 1.3% of a
                // 4 KiB GET's server CPU.
                let remoteAddress = channel.channel.remoteAddress?.ipAddress
                // Slow clients: the next request head must be complete within the header
                // timeout (also how long an idle keep-alive connection stays).
                let deadline = HeadDeadline(channel: channel.channel,
                                            timeout: .seconds(handler.configuration.headerTimeoutSeconds))
                defer { deadline.cancel() }
                while true {
                    deadline.startWaiting()
                    let next = try await parts.next()
                    deadline.stopWaiting()
                    guard let part = next else { return }
                    guard case .head(let head) = part else {
                        // Body or end without a head: the previous request's leftovers were
                        // already drained, so this cannot happen on a sane connection.
                        return
                    }
                    state?.beginRequest()
                    let keepAlive = try await serve(head, parts: parts, output: output, remoteAddress: remoteAddress)
                    let mayContinue = state?.endRequest() ?? true
                    if !keepAlive || !mayContinue { return }
                }
            }
        } catch {
            handler.logger.debug("connection ended: \(error)")
        }
    }

    /// Answers the first request with 503 SlowDown and closes: the server is at its
    /// connection cap. Bounded by the idle timeout like any connection.
    func refuseBusy() async {
        // Bounded like any request head (the wait never stops: the whole exchange gets
        // the header timeout), so refused connections cannot pile up.
        let deadline = HeadDeadline(channel: channel.channel, timeout: .seconds(handler.configuration.headerTimeoutSeconds))
        deadline.startWaiting()
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
    private func serve(_ head: HTTPRequestHead, parts: InboundParts, output: ResponseOutput,
                       remoteAddress: String?) async throws -> Bool {
        let expectsContinue = head.headers["expect"].contains { $0.lowercased() == "100-continue" }
        let body = RequestBody(parts: parts, output: output, expectsContinue: expectsContinue)
        let response = await handler.handle(head, body: body, remoteAddress: remoteAddress)
        // A stopping server answers this request and closes (`Connection: close`).
        var keepAlive = head.isKeepAlive && !(state?.isDraining ?? false)

        // A client that sent `Expect: 100-continue` has not sent its body yet.
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
        // a second response would violate HTTP/1.1.
        if body.decoderFailed { return false }
        try await output.write(response, keepAlive: keepAlive, handler: handler)
        return keepAlive
    }
}

/// The header timeout of one connection: it closes when a request head has not arrived
/// complete within `timeout` of the connection starting to wait for it.
///
/// One timer per connection, re-armed only when it fires: if the connection is waiting,
/// it fires again at the end of that wait's allowance, else one timeout from now. A
/// timer scheduled and cancelled around every request was 2-3% of a 4 KiB GET's server
/// CPU (a heap insertion and removal, a promise, a failed future).
final class HeadDeadline: Sendable {
    private let channel: Channel
    private let timeout: TimeAmount
    /// When the current wait began (`NIODeadline.uptimeNanoseconds`), 0 while not waiting.
    private let waitingSince = Atomic<UInt64>(0)
    /// The armed timer; nil once the connection is done.
    private let timer = NIOLockedValueBox<Scheduled<Void>?>(nil)
    private let done = Atomic<Bool>(false)

    init(channel: Channel, timeout: TimeAmount) {
        self.channel = channel
        self.timeout = timeout
        arm(at: .now() + timeout)
    }

    /// The connection waits for the next request head from now.
    func startWaiting() {
        waitingSince.store(max(1, NIODeadline.now().uptimeNanoseconds), ordering: .relaxed)
    }

    /// The head (or the end of the connection) arrived.
    func stopWaiting() {
        waitingSince.store(0, ordering: .relaxed)
    }

    /// The connection is done: the timer goes, so it does not hold the channel.
    func cancel() {
        done.store(true, ordering: .relaxed)
        timer.withLockedValue { $0?.cancel(); $0 = nil }
    }

    private func arm(at deadline: NIODeadline) {
        let scheduled = channel.eventLoop.scheduleTask(deadline: deadline) { [self] in fire() }
        timer.withLockedValue { $0 = scheduled }
        // Cancelled meanwhile (from the connection's task, on another thread): undo.
        if done.load(ordering: .relaxed) { cancel() }
    }

    private func fire() {
        guard channel.isActive, !done.load(ordering: .relaxed) else { return }
        let since = waitingSince.load(ordering: .relaxed)
        let now = NIODeadline.now()
        if since == 0 {
            arm(at: now + timeout)
            return
        }
        let end = NIODeadline.uptimeNanoseconds(since) + timeout
        if end <= now {
            channel.close(promise: nil)
        } else {
            arm(at: end)
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

/// Whether a connection is serving a request, for stopping gracefully: ``drain()``
/// closes a connection between requests at once and lets one in the middle of a request
/// finish it, answered with `Connection: close`.
final class ConnectionState: Sendable {
    let channel: Channel
    private let flags = NIOLockedValueBox((busy: false, draining: false))

    init(channel: Channel) {
        self.channel = channel
    }

    /// A request head arrived.
    func beginRequest() {
        flags.withLockedValue { $0.busy = true }
    }

    /// The response is written; returns whether the connection may carry another request.
    func endRequest() -> Bool {
        flags.withLockedValue { flags in
            flags.busy = false
            return !flags.draining
        }
    }

    /// Whether the server is stopping.
    var isDraining: Bool { flags.withLockedValue { $0.draining } }

    /// The server is stopping: closes the connection now if it is between requests,
    /// else after the current response (``endRequest()``). A request head that arrives
    /// just as an idle connection closes is lost with it, as with any server closing an
    /// idle keep-alive connection; clients retry those.
    func drain() {
        let idle = flags.withLockedValue { flags -> Bool in
            flags.draining = true
            return !flags.busy
        }
        if idle { channel.close(promise: nil) }
    }
}
