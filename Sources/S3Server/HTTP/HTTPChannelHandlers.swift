import NIOCore
import NIOHTTP1

/// Closes the file handle of every `FileRegion` body once its write has finished (or
/// failed). It sits just before the async channel handler because `NIOAsyncChannel`'s
/// writer gives no completion signal of its own; each region carries its own duplicated
/// descriptor (``ObjectReader/Piece/makeFileRegion()``), so closing it never disturbs
/// another response or the segment file.
final class FileRegionCloser: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .body(.fileRegion(let region)) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        written.futureResult.whenComplete { _ in try? region.fileHandle.close() }
        context.write(data, promise: written)
    }
}

/// Tells the connection's lifecycle that nothing was read or written for the idle
/// timeout, which closes it (an `IdleStateHandler` in front of it sends the event).
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let lifecycle: ConnectionLifecycle

    init(_ lifecycle: ConnectionLifecycle) {
        self.lifecycle = lifecycle
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            lifecycle.idleTimeout()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
