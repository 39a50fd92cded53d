// The fastest a SwiftNIO HTTP/1.1 server answers a 4 KiB GET on this machine, with
// Strata's channel set-up (two event loops, TCP_NODELAY, NIO's HTTP codec without
// pipelining assistance) and no S3 work at all: every request gets the same 4 KiB body
// and five headers. Two ways of serving, the two Strata could choose between:
//
//   sync   a ChannelInboundHandler answers on the event loop when the request ends;
//   async  one task per connection reads parts from an NIOAsyncChannel and writes the
//          response through its outbound writer, the task running on its channel's event
//          loop (Strata's HTTPConnection and EventLoopTaskExecutor).
//
//   nio-ceiling sync|async PORT
import NIOCore
import NIOHTTP1
import NIOPosix

let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: 4096)

func responseHead() -> HTTPResponseHead {
    var headers = HTTPHeaders()
    headers.add(name: "Content-Length", value: "4096")
    headers.add(name: "Content-Type", value: "application/octet-stream")
    headers.add(name: "ETag", value: "\"0123456789abcdef0123456789abcdef\"")
    headers.add(name: "Last-Modified", value: "Fri, 04 Dec 2026 15:00:00 GMT")
    headers.add(name: "x-amz-request-id", value: "0123456789ABCDEF")
    return HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
}

final class SyncHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var keepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            context.write(wrapOutboundOut(.head(responseHead())), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                written.whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }
}

final class LoopExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: EventLoop
    init(_ eventLoop: EventLoop) { self.eventLoop = eventLoop }
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, ["sync", "async"].contains(arguments[1]), let port = Int(arguments[2]) else {
    print("usage: nio-ceiling sync|async PORT")
    exit(2)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
var byLoop: [ObjectIdentifier: LoopExecutor] = [:]
for loop in group.makeIterator() { byLoop[ObjectIdentifier(loop)] = LoopExecutor(loop) }
let executors = byLoop
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)

if arguments[1] == "sync" {
    let channel = try await bootstrap.childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
            try channel.pipeline.syncOperations.addHandler(SyncHandler())
        }
    }.bind(host: "127.0.0.1", port: port).get()
    try await channel.closeFuture.get()
} else {
    let listener = try await bootstrap.bind(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
            return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                wrappingChannelSynchronously: channel,
                configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8)))
        }
    }
    await withDiscardingTaskGroup { group in
        try? await listener.executeThenClose { connections in
            for try await connection in connections {
                group.addTask(executorPreference: executors[ObjectIdentifier(connection.channel.eventLoop)]) {
                    try? await connection.executeThenClose { inbound, outbound in
                        var keepAlive = true
                        for try await part in inbound {
                            switch part {
                            case .head(let head): keepAlive = head.isKeepAlive
                            case .body: break
                            case .end:
                                try await outbound.write(contentsOf: [.head(responseHead()), .body(.byteBuffer(body)), .end(nil)])
                                if !keepAlive { return }
                            }
                        }
                    }
                }
            }
        }
    }
}
