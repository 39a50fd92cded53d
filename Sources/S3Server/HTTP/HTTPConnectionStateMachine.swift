import NIOCore

/// The life of one client connection, as a value: whether it waits for a request head,
/// serves a request or refuses one, whether it may carry another request, when its header
/// timeout ends, and when it must close.
///
/// Events go in (a request head arrived, the response is ready, it was written, the
/// timer fired, the server is stopping, the connection idled), actions come out (serve,
/// refuse, send `100 Continue`, drain the body, write with or without keep-alive, close,
/// re-arm the timer). ``ConnectionLifecycle`` feeds it and carries the actions out on a
/// channel; nothing in here touches one, so every rule is tested on the value itself.
///
/// The rules:
/// - A request head must arrive complete within the header timeout, counted from when
///   the connection starts waiting for it: its start, or the end of the previous
///   response. Slow clients, and idle keep-alive connections, are closed then.
/// - A connection over the server's cap answers its first request 503 SlowDown and
///   closes; the whole exchange must fit in one header timeout from its start.
/// - The connection carries another request when the client asked for keep-alive, the
///   server is not stopping, and the request's body was read to its end (see
///   ``responseReady(isError:body:)`` for `Expect: 100-continue` and unread bodies).
/// - Stopping (``drain()``): a connection between requests closes at once; one serving a
///   request finishes it, answered with `Connection: close`.
/// - No traffic in either direction for the idle timeout closes the connection.
struct HTTPConnectionStateMachine: Sendable {
    enum State: Equatable, Sendable {
        /// Waiting for the next request head since `since`: the connection's start or the
        /// end of the previous response.
        case awaitingHead(since: NIODeadline)
        /// Serving a request; `keepAlive`: whether the connection may carry another after
        /// it, as far as is known yet.
        case serving(keepAlive: Bool)
        /// Over the connection cap: the first request is refused, then the connection
        /// closes; everything must happen within a header timeout from `since`.
        case refusing(since: NIODeadline)
        case closed
    }

    /// The most unread request body drained (and dropped) so that the connection can
    /// carry on after an early answer; a larger one closes the connection instead.
    static let maxDrainedBodyBytes: Int64 = 1 << 20

    let headerTimeout: TimeAmount
    private(set) var state: State
    /// The server is stopping: no request after the current one.
    private(set) var isDraining = false

    /// A connection opened `now`, waiting for its first request head.
    init(now: NIODeadline, headerTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        state = .awaitingHead(since: now)
    }

    /// The server is at its connection cap: this connection's first request is refused.
    mutating func overCapacity() {
        if case .awaitingHead(let since) = state { state = .refusing(since: since) }
    }

    // MARK: - Requests

    enum HeadAction: Equatable, Sendable {
        /// Serve the request.
        case serve
        /// Answer 503 SlowDown with `Connection: close`, then close.
        case refuse
        /// The connection is closing: drop the request.
        case close
    }

    /// A request head arrived. `keepAlive`: whether the client asked to keep the
    /// connection (HTTP/1.1 without `Connection: close`, or HTTP/1.0 with keep-alive).
    mutating func receivedHead(keepAlive: Bool) -> HeadAction {
        switch state {
        case .awaitingHead:
            state = .serving(keepAlive: keepAlive)
            return .serve
        case .refusing:
            return .refuse
        case .serving, .closed:
            // A head while serving cannot come from a sane connection (the body reader
            // would have met it first): give up on the connection.
            state = .closed
            return .close
        }
    }

    /// How far the request's body has come when the response is ready.
    struct BodyProgress: Equatable, Sendable {
        /// The client sent `Expect: 100-continue`.
        var expectsContinue: Bool
        /// `100 Continue` has been written.
        var continueSent: Bool
        /// The body has been read to its end.
        var isComplete: Bool
    }

    /// What to do with the body before the response goes out.
    struct BodyAction: Equatable, Sendable {
        /// Write `100 Continue` first (the client is waiting for it to send its body).
        var sendContinue: Bool
        /// Read and drop the rest of the body, up to ``maxDrainedBodyBytes``, so the
        /// client reads the answer instead of a reset; then ``bodySettled(decoderFailed:drainedCompletely:)``.
        var drain: Bool
    }

    /// The handler's response is ready. `isError`: its status is 400 or more.
    ///
    /// A client that sent `Expect: 100-continue` and has not had it yet gets it before a
    /// successful response, even when the handler read no body (botocore misreads the
    /// connection otherwise); before an error it gets none, and the connection closes,
    /// since the body may or may not follow (docs/S3-NOTES.md, "Expect: 100-continue").
    mutating func responseReady(isError: Bool, body: BodyProgress) -> BodyAction {
        guard case .serving(var keepAlive) = state else { return BodyAction(sendContinue: false, drain: false) }
        keepAlive = keepAlive && !isDraining
        var sendContinue = false
        if body.expectsContinue && !body.continueSent && !body.isComplete {
            if isError { keepAlive = false } else { sendContinue = true }
        }
        state = .serving(keepAlive: keepAlive)
        return BodyAction(sendContinue: sendContinue, drain: keepAlive && !body.isComplete)
    }

    enum WriteAction: Equatable, Sendable {
        /// Write the response; `keepAlive` false adds `Connection: close`.
        case write(keepAlive: Bool)
        /// Write nothing and close: the request's framing broke, NIO has answered 400
        /// and closes the connection, and a second response would violate HTTP/1.1.
        case close
    }

    /// The body is as it will stay. `decoderFailed`: reading it failed in the HTTP
    /// decoder; `drainedCompletely`: false when draining met more than the limit or an
    /// error (true when no drain was asked for).
    mutating func bodySettled(decoderFailed: Bool, drainedCompletely: Bool) -> WriteAction {
        guard case .serving(let keepAlive) = state, !decoderFailed else {
            state = .closed
            return .close
        }
        state = .serving(keepAlive: keepAlive && drainedCompletely)
        return .write(keepAlive: keepAlive && drainedCompletely)
    }

    enum AfterResponse: Equatable, Sendable {
        /// Wait for the next request head (the header timeout runs from `now`).
        case awaitHead
        case close
    }

    /// The response has been written.
    mutating func wroteResponse(now: NIODeadline) -> AfterResponse {
        guard case .serving(let keepAlive) = state, keepAlive, !isDraining else {
            state = .closed
            return .close
        }
        state = .awaitingHead(since: now)
        return .awaitHead
    }

    // MARK: - Timers and the end

    enum TimerAction: Equatable, Sendable {
        /// The header timeout has passed: close the connection.
        case close
        /// Fire again then.
        case rearm(at: NIODeadline)
        /// The connection is closed: no more timer.
        case stop
    }

    /// The connection's one timer fired. It is re-armed only when it fires: a timer
    /// scheduled and cancelled around every request cost 2-3% of a 4 KiB GET's server CPU
    /// (a heap insertion and removal, a promise, a failed future).
    mutating func timerFired(now: NIODeadline) -> TimerAction {
        switch state {
        case .awaitingHead(let since), .refusing(let since):
            let end = since + headerTimeout
            if end <= now {
                state = .closed
                return .close
            }
            return .rearm(at: end)
        case .serving:
            // A request being served is bounded by the idle timeout, not this one.
            return .rearm(at: now + headerTimeout)
        case .closed:
            return .stop
        }
    }

    enum DrainAction: Equatable, Sendable {
        /// Between requests (or refusing one): close now. A request head that arrives just
        /// as an idle connection closes is lost with it, as with any server closing an
        /// idle keep-alive connection; clients retry those.
        case close
        /// Let the request being served finish; the connection closes after its response.
        case finishRequest
        case none
    }

    /// The server is stopping.
    mutating func drain() -> DrainAction {
        isDraining = true
        switch state {
        case .awaitingHead, .refusing:
            state = .closed
            return .close
        case .serving:
            return .finishRequest
        case .closed:
            return .none
        }
    }

    /// Nothing was read or written for the idle timeout, whatever the state: close.
    mutating func idleTimeout() {
        state = .closed
    }

    /// The connection is gone (closed by either side, or its task ended).
    mutating func closed() {
        state = .closed
    }
}
