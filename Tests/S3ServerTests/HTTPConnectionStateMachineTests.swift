import NIOCore
import XCTest
@testable import S3Server

/// The rules of a connection's life, tested on the value itself: no channel, no socket,
/// no clock but the deadlines passed in.
final class HTTPConnectionStateMachineTests: XCTestCase {
    private let timeout = TimeAmount.seconds(10)

    private func at(_ seconds: Int64) -> NIODeadline {
        .uptimeNanoseconds(UInt64(seconds) * 1_000_000_000 + 1_000_000_000)
    }

    private let complete = HTTPConnectionStateMachine.BodyProgress(expectsContinue: false, continueSent: false, isComplete: true)

    /// One request served from head to written response.
    private func serve(_ machine: inout HTTPConnectionStateMachine, keepAlive: Bool = true, isError: Bool = false,
                       at now: NIODeadline) -> HTTPConnectionStateMachine.AfterResponse {
        XCTAssertEqual(machine.receivedHead(keepAlive: keepAlive), .serve)
        XCTAssertEqual(machine.responseReady(isError: isError, body: complete), .init(sendContinue: false, drain: false))
        XCTAssertEqual(machine.bodySettled(decoderFailed: false, drainedCompletely: true), .write(keepAlive: keepAlive))
        return machine.wroteResponse(now: now)
    }

    func testKeepAliveConnectionServesRequestsInTurn() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        XCTAssertEqual(serve(&machine, at: at(1)), .awaitHead)
        XCTAssertEqual(machine.state, .awaitingHead(since: at(1)))
        XCTAssertEqual(serve(&machine, isError: true, at: at(2)), .awaitHead, "an error answer keeps the connection")
        XCTAssertEqual(serve(&machine, keepAlive: false, at: at(3)), .close, "Connection: close from the client")
        XCTAssertEqual(machine.state, .closed)
    }

    // MARK: - Header timeout

    func testHeadNotArrivedWithinTheHeaderTimeoutCloses() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        XCTAssertEqual(machine.timerFired(now: at(10)), .close)
        XCTAssertEqual(machine.state, .closed)
        XCTAssertEqual(machine.timerFired(now: at(20)), .stop)
    }

    /// The allowance runs from the end of the previous response, not from the
    /// connection's start (fails with a deadline counted from the start).
    func testHeaderTimeoutRunsFromTheEndOfThePreviousResponse() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        XCTAssertEqual(serve(&machine, at: at(6)), .awaitHead)
        XCTAssertEqual(machine.timerFired(now: at(10)), .rearm(at: at(16)))
        XCTAssertEqual(machine.timerFired(now: at(16)), .close)
    }

    /// A busy connection outlives the header timeout: every head arrives within its own
    /// allowance (fails with a deadline that is not renewed per request).
    func testBusyConnectionOutlivesTheHeaderTimeout() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        var timer = at(10)
        for second in stride(from: Int64(2), through: 60, by: 2) {
            if at(second) >= timer {
                guard case .rearm(let next) = machine.timerFired(now: timer) else { return XCTFail("closed at \(second) s") }
                timer = next
            }
            XCTAssertEqual(serve(&machine, at: at(second)), .awaitHead)
        }
    }

    /// While a request is served the header timeout does not apply (a long upload is
    /// bounded by the idle timeout): the timer only re-arms.
    func testServingIsNotCutByTheHeaderTimeout() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        XCTAssertEqual(machine.receivedHead(keepAlive: true), .serve)
        XCTAssertEqual(machine.timerFired(now: at(10)), .rearm(at: at(20)))
        XCTAssertEqual(machine.timerFired(now: at(20)), .rearm(at: at(30)))
        XCTAssertEqual(machine.state, .serving(keepAlive: true))
    }

    // MARK: - Expect: 100-continue and unread bodies

    func testExpectContinueGets100BeforeASuccessEvenWithTheBodyUnread() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        _ = machine.receivedHead(keepAlive: true)
        let waiting = HTTPConnectionStateMachine.BodyProgress(expectsContinue: true, continueSent: false, isComplete: false)
        XCTAssertEqual(machine.responseReady(isError: false, body: waiting), .init(sendContinue: true, drain: true))
        XCTAssertEqual(machine.bodySettled(decoderFailed: false, drainedCompletely: true), .write(keepAlive: true))
        XCTAssertEqual(machine.wroteResponse(now: at(1)), .awaitHead)
    }

    /// An error before the body: no 100 Continue, and the connection closes, since the
    /// body may or may not follow.
    func testExpectContinueErrorClosesWithout100() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        _ = machine.receivedHead(keepAlive: true)
        let waiting = HTTPConnectionStateMachine.BodyProgress(expectsContinue: true, continueSent: false, isComplete: false)
        XCTAssertEqual(machine.responseReady(isError: true, body: waiting), .init(sendContinue: false, drain: false))
        XCTAssertEqual(machine.bodySettled(decoderFailed: false, drainedCompletely: true), .write(keepAlive: false))
        XCTAssertEqual(machine.wroteResponse(now: at(1)), .close)
    }

    /// An early answer's unread body is drained when small; a large one closes.
    func testUnreadBodyIsDrainedOrClosesTheConnection() {
        let unread = HTTPConnectionStateMachine.BodyProgress(expectsContinue: false, continueSent: false, isComplete: false)
        for drained in [true, false] {
            var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
            _ = machine.receivedHead(keepAlive: true)
            XCTAssertEqual(machine.responseReady(isError: true, body: unread), .init(sendContinue: false, drain: true))
            XCTAssertEqual(machine.bodySettled(decoderFailed: false, drainedCompletely: drained), .write(keepAlive: drained))
            XCTAssertEqual(machine.wroteResponse(now: at(1)), drained ? .awaitHead : .close)
        }
    }

    /// The HTTP decoder failed mid-body: NIO has answered 400; nothing more is written.
    func testDecoderFailureWritesNothingAndCloses() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        _ = machine.receivedHead(keepAlive: true)
        _ = machine.responseReady(isError: true, body: complete)
        XCTAssertEqual(machine.bodySettled(decoderFailed: true, drainedCompletely: false), .close)
        XCTAssertEqual(machine.state, .closed)
    }

    // MARK: - Stopping, idling, refusing

    func testDrainClosesAnIdleConnectionAtOnce() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        XCTAssertEqual(serve(&machine, at: at(1)), .awaitHead)
        XCTAssertEqual(machine.drain(), .close)
        XCTAssertEqual(machine.state, .closed)
        XCTAssertEqual(machine.drain(), .none)
    }

    /// A request in flight when the server stops finishes; its answer says
    /// `Connection: close` when the stop came before it was written, and the connection
    /// closes after it either way.
    func testDrainLetsTheRequestInFlightFinishThenCloses() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        _ = machine.receivedHead(keepAlive: true)
        XCTAssertEqual(machine.drain(), .finishRequest)
        _ = machine.responseReady(isError: false, body: complete)
        XCTAssertEqual(machine.bodySettled(decoderFailed: false, drainedCompletely: true), .write(keepAlive: false))
        XCTAssertEqual(machine.wroteResponse(now: at(1)), .close)

        var late = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        _ = late.receivedHead(keepAlive: true)
        _ = late.responseReady(isError: false, body: complete)
        XCTAssertEqual(late.bodySettled(decoderFailed: false, drainedCompletely: true), .write(keepAlive: true))
        XCTAssertEqual(late.drain(), .finishRequest)
        XCTAssertEqual(late.wroteResponse(now: at(1)), .close)
    }

    func testIdleTimeoutClosesInAnyState() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        _ = machine.receivedHead(keepAlive: true)
        machine.idleTimeout()
        XCTAssertEqual(machine.state, .closed)
        XCTAssertEqual(machine.timerFired(now: at(5)), .stop)
    }

    /// Over the cap: the first request is refused, and the whole exchange must fit in one
    /// header timeout from the connection's start (the wait is never renewed).
    func testConnectionOverTheCapRefusesWithinOneHeaderTimeout() {
        var machine = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        machine.overCapacity()
        XCTAssertEqual(machine.timerFired(now: at(4)), .rearm(at: at(10)))
        XCTAssertEqual(machine.receivedHead(keepAlive: true), .refuse)
        XCTAssertEqual(machine.timerFired(now: at(10)), .close)

        var stopping = HTTPConnectionStateMachine(now: at(0), headerTimeout: timeout)
        stopping.overCapacity()
        XCTAssertEqual(stopping.drain(), .close)
    }
}

/// The connection cap: served up to the cap, refused up to as many again, closed beyond.
final class ConnectionAdmissionTests: XCTestCase {
    func testServesUpToTheCapThenRefusesThenCloses() {
        var admission = ConnectionAdmission(maxConnections: 2)
        XCTAssertEqual((0..<6).map { _ in admission.arrived() }, [.serve, .serve, .refuse, .refuse, .close, .close])
        admission.ended(.serve)
        XCTAssertEqual(admission.arrived(), .serve, "a freed slot takes a new connection")
        XCTAssertEqual(admission.arrived(), .close)
        admission.ended(.refuse)
        XCTAssertEqual(admission.arrived(), .refuse)
        XCTAssertEqual(admission.served, 2)
        XCTAssertEqual(admission.refusing, 2)
    }
}
