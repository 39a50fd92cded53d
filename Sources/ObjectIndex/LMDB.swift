import CLMDB

/// An LMDB call failed. `code` is LMDB's return code (or an errno).
public struct LMDBError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var operation: String

    public var description: String {
        "\(operation): \(String(cString: mdb_strerror(code))) (\(code))"
    }

    /// The map is full: the index needs a larger map size.
    public var isMapFull: Bool { code == MDB_MAP_FULL }
}

@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
    if rc != 0 { throw LMDBError(code: rc, operation: operation()) }
}

/// A named database inside the environment: one of the index's tables.
public struct Database: Sendable {
    let dbi: MDB_dbi
    /// The index table this database is, so code can `switch` over it (exhaustively)
    /// instead of comparing names.
    public let table: Table
    /// The LMDB database name: the table's raw value, or a snapshot slot's name for it.
    public let name: String
}

/// An LMDB environment opened with MDB_NOTLS (Swift tasks move between threads) and
/// MDB_NOMETASYNC (a system crash may undo the last index transaction, never corrupt
/// the index; replay from the checkpoint redoes it).
///
/// Transactions are scoped to a synchronous closure, so none can live across an `await`.
/// Writers are serialised by LMDB's own writer lock; readers run in parallel.
public final class LMDBEnvironment: @unchecked Sendable {
    let env: OpaquePointer
    public let path: String

    /// Opens (creating if needed) the environment in directory `path`.
    ///
    /// With `readOnly` the environment is opened with `MDB_RDONLY`: nothing is created
    /// and no write transaction can start, so tools can look at the index of a running
    /// server. (LMDB readers still register in `lock.mdb`, which must be writable.)
    /// With `syncEachCommit` false the environment runs with `MDB_NOSYNC`: a commit is
    /// in the page cache, not on disk, until ``sync()``. Only for an owner that can tell
    /// a machine crash from a process crash (ObjectStore's `IndexSession`).
    public init(path: String, mapSize: Int = 1 << 38, maxDatabases: Int = 16, maxReaders: Int = 1024,
                readOnly: Bool = false, syncEachCommit: Bool = true) throws {
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw LMDBError(code: -1, operation: "mdb_env_create") }
        do {
            try check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            try check(mdb_env_set_maxdbs(env, MDB_dbi(maxDatabases)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, UInt32(maxReaders)), "mdb_env_set_maxreaders")
            let flags = UInt32(MDB_NOTLS | MDB_NOMETASYNC | MDB_NORDAHEAD | (readOnly ? MDB_RDONLY : 0)
                                   | (syncEachCommit ? 0 : MDB_NOSYNC))
            try check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open \(path)")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.env = env
        self.path = path
    }

    deinit { mdb_env_close(env) }

    /// Opens or creates the named database of `table` (by default named as the table).
    public func openDatabase(_ table: Table, name: String? = nil) throws -> Database {
        try openDatabases([(table, name ?? table.rawValue)])[0]
    }

    /// Opens or creates named databases, all in one write transaction (one sync, where
    /// every commit syncs).
    public func openDatabases(_ databases: [(table: Table, name: String)]) throws -> [Database] {
        try write { txn in
            try databases.map { table, name in
                var dbi: MDB_dbi = 0
                try check(mdb_dbi_open(txn.txn, name, UInt32(MDB_CREATE), &dbi), "mdb_dbi_open \(name)")
                return Database(dbi: dbi, table: table, name: name)
            }
        }
    }

    /// Opens a named database that already exists (by default named as the table), without
    /// creating it (nil if it does not exist). Works on a read-only environment.
    public func openExistingDatabase(_ table: Table, name: String? = nil) throws -> Database? {
        let name = name ?? table.rawValue
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin(read)")
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(txn, name, 0, &dbi)
        if rc == MDB_NOTFOUND {
            mdb_txn_abort(txn)
            return nil
        }
        if rc != 0 {
            mdb_txn_abort(txn)
            throw LMDBError(code: rc, operation: "mdb_dbi_open \(name)")
        }
        // A handle opened in a transaction outlives it only if the transaction commits.
        try check(mdb_txn_commit(txn), "mdb_txn_commit(read)")
        return Database(dbi: dbi, table: table, name: name)
    }

    /// Size and use of the memory map (`mdb_env_info`, `mdb_env_stat`).
    public struct Info: Sendable, Equatable {
        /// The configured map size: address space, not disk space.
        public var mapSize: Int
        /// Bytes of the map in use: (last used page + 1) × page size.
        public var usedBytes: Int
        /// The database page size.
        public var pageSize: Int
        /// The last transaction id committed.
        public var lastTransaction: Int
        /// Reader slots in use and available.
        public var readers: Int
        public var maxReaders: Int
    }

    /// The current map size, pages used, and reader slots.
    public func info() throws -> Info {
        var info = MDB_envinfo()
        try check(mdb_env_info(env, &info), "mdb_env_info")
        var stat = MDB_stat()
        try check(mdb_env_stat(env, &stat), "mdb_env_stat")
        let pageSize = Int(stat.ms_psize)
        return Info(mapSize: info.me_mapsize, usedBytes: (info.me_last_pgno + 1) * pageSize, pageSize: pageSize,
                    lastTransaction: info.me_last_txnid, readers: Int(info.me_numreaders), maxReaders: Int(info.me_maxreaders))
    }

    /// Runs `body` in a read-only transaction (an MVCC snapshot).
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin(read)")
        defer { mdb_txn_abort(txn) }
        return try body(Transaction(txn: txn!))
    }

    /// Runs `body` in a write transaction; commits if it returns, aborts if it throws.
    public func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin(write)")
        let result: T
        do {
            result = try body(Transaction(txn: txn!))
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try check(mdb_txn_commit(txn), "mdb_txn_commit")
        return result
    }

    /// Forces the environment to disk (used at clean shutdown).
    public func sync() throws {
        try check(mdb_env_sync(env, 1), "mdb_env_sync")
    }

    /// Number of entries in a database.
    public func count(_ db: Database) throws -> Int {
        try read { txn in
            var stat = MDB_stat()
            try check(mdb_stat(txn.txn, db.dbi, &stat), "mdb_stat")
            return Int(stat.ms_entries)
        }
    }
}

/// A transaction handle valid only inside `read`/`write` closures.
public struct Transaction {
    let txn: OpaquePointer

    /// The value stored under `key`, copied out of the map.
    public func get(_ db: Database, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            var mv = MDB_val()
            let rc = mdb_get(txn, db.dbi, &mk, &mv)
            if rc == MDB_NOTFOUND { return nil }
            try check(rc, "mdb_get \(db.name)")
            return copy(mv)
        }
    }

    /// Stores `value` under `key`, replacing any earlier value.
    public func put(_ db: Database, _ key: [UInt8], _ value: [UInt8]) throws {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in
                var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var mv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                try check(mdb_put(txn, db.dbi, &mk, &mv, 0), "mdb_put \(db.name)")
            }
        }
    }

    /// Removes `key`; returns whether it was there.
    @discardableResult
    public func delete(_ db: Database, _ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            let rc = mdb_del(txn, db.dbi, &mk, nil)
            if rc == MDB_NOTFOUND { return false }
            try check(rc, "mdb_del \(db.name)")
            return true
        }
    }

    /// Removes every entry of a database.
    public func clear(_ db: Database) throws {
        try check(mdb_drop(txn, db.dbi, 0), "mdb_drop \(db.name)")
    }

    /// Copies every entry of `source` into `target`, which must be empty, in key order
    /// (`MDB_APPEND`: pages are filled in order, no search per entry). The bytes go from
    /// map to page without Swift arrays in between: this is a snapshot's cost.
    public func copyAll(from source: Database, to target: Database) throws {
        var read: OpaquePointer?, write: OpaquePointer?
        try check(mdb_cursor_open(txn, source.dbi, &read), "mdb_cursor_open \(source.name)")
        defer { mdb_cursor_close(read) }
        try check(mdb_cursor_open(txn, target.dbi, &write), "mdb_cursor_open \(target.name)")
        defer { mdb_cursor_close(write) }
        var key = MDB_val(), value = MDB_val()
        var rc = mdb_cursor_get(read, &key, &value, MDB_FIRST)
        while rc == 0 {
            try check(mdb_cursor_put(write, &key, &value, UInt32(MDB_APPEND)), "mdb_cursor_put \(target.name)")
            rc = mdb_cursor_get(read, &key, &value, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try check(rc, "mdb_cursor_get \(source.name)") }
    }

    /// Number of entries in `db`, as this transaction sees it.
    public func count(_ db: Database) throws -> Int {
        var stat = MDB_stat()
        try check(mdb_stat(txn, db.dbi, &stat), "mdb_stat")
        return Int(stat.ms_entries)
    }

    /// A cursor over `db`, closed when `body` returns.
    public func withCursor<T>(_ db: Database, _ body: (inout Cursor) throws -> T) throws -> T {
        var c: OpaquePointer?
        try check(mdb_cursor_open(txn, db.dbi, &c), "mdb_cursor_open \(db.name)")
        defer { mdb_cursor_close(c) }
        var cursor = Cursor(cursor: c!)
        return try body(&cursor)
    }
}

/// A position in a database's sorted keys (byte order).
public struct Cursor {
    let cursor: OpaquePointer

    /// The first entry whose key is ≥ `key`.
    public mutating func seek(atOrAfter key: [UInt8]) throws -> (key: [UInt8], value: [UInt8])? {
        try key.withUnsafeBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
            return try op(&mk, MDB_SET_RANGE)
        }
    }

    /// The first entry of the database.
    public mutating func first() throws -> (key: [UInt8], value: [UInt8])? {
        var mk = MDB_val()
        return try op(&mk, MDB_FIRST)
    }

    /// The entry after the current one.
    public mutating func next() throws -> (key: [UInt8], value: [UInt8])? {
        var mk = MDB_val()
        return try op(&mk, MDB_NEXT)
    }

    /// The last entry of the database.
    public mutating func last() throws -> (key: [UInt8], value: [UInt8])? {
        var mk = MDB_val()
        return try op(&mk, MDB_LAST)
    }

    private func op(_ mk: inout MDB_val, _ op: MDB_cursor_op) throws -> (key: [UInt8], value: [UInt8])? {
        var mv = MDB_val()
        let rc = mdb_cursor_get(cursor, &mk, &mv, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_cursor_get")
        return (copy(mk), copy(mv))
    }
}

@inline(__always)
func copy(_ v: MDB_val) -> [UInt8] {
    guard v.mv_size > 0, let p = v.mv_data else { return [] }
    return Array(UnsafeRawBufferPointer(start: p, count: v.mv_size))
}
