/// The server's connection cap, as a value: which accepted connection is served, which
/// is refused with 503 SlowDown, and which is closed at once.
///
/// Over the cap a connection is answered 503 SlowDown (SDKs back off and retry) rather
/// than left unaccepted; with as many refusals under way as the cap, a further one is
/// just closed, so descriptors stay bounded.
struct ConnectionAdmission: Sendable {
    enum Decision: Equatable, Sendable {
        case serve
        case refuse
        case close
    }

    let maxConnections: Int
    /// Connections being served.
    private(set) var served = 0
    /// Connections being refused.
    private(set) var refusing = 0

    init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// A connection was accepted.
    mutating func arrived() -> Decision {
        if served < maxConnections {
            served += 1
            return .serve
        }
        if refusing < maxConnections {
            refusing += 1
            return .refuse
        }
        return .close
    }

    /// A connection that `arrived()` admitted with `decision` has ended.
    mutating func ended(_ decision: Decision) {
        switch decision {
        case .serve: served -= 1
        case .refuse: refusing -= 1
        case .close: break
        }
    }
}
