import CSystemShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call on a segment file or directory, with the errno it returned.
public struct IOError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// The device is full (ENOSPC) or over quota (EDQUOT).
    public var isOutOfSpace: Bool { errno == ENOSPC || errno == EDQUOT }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// An open segment file. The descriptor closes when the last reference goes away, so a
/// reader that holds one keeps reading even after compaction unlinks the file
/// (docs/DESIGN.md, "Readers never see a half-written object").
public final class SegmentFile: Sendable {
    public let id: UInt64
    public let path: String
    public let descriptor: Int32
    /// The log's fault injector (tests only): consulted on writes and syncs, and its
    /// observer told about every change to the file.
    let faults: FaultInjector?

    init(id: UInt64, path: String, descriptor: Int32, faults: FaultInjector?) {
        self.id = id
        self.path = path
        self.descriptor = descriptor
        self.faults = faults
    }

    deinit { close(descriptor) }

    static func open(id: UInt64, path: String, create: Bool, faults: FaultInjector? = nil) throws -> SegmentFile {
        let flags = O_RDWR | O_CLOEXEC | (create ? (O_CREAT | O_EXCL) : 0)
        let fd = path.withCString { Glibc.open($0, flags, 0o644) }
        guard fd >= 0 else { throw IOError("open", path: path, errno: errno) }
        if create { faults?.observer?.created(path) }
        return SegmentFile(id: id, path: path, descriptor: fd, faults: faults)
    }

    /// Current size of the file in bytes.
    public func size() throws -> UInt64 {
        var st = stat()
        guard fstat(descriptor, &st) == 0 else { throw IOError("fstat", path: path, errno: errno) }
        return UInt64(st.st_size)
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError("pread", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset`, or throws (EIO) if the file is shorter.
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { (b) throws -> Int in try read(at: offset, into: b) }
        guard n == count else { throw IOError("short read", path: path, errno: EIO) }
        return bytes
    }

    /// Asks the kernel to start writing `range` to disk now, without waiting for it.
    ///
    /// A large upload otherwise leaves all its bytes dirty in the page cache until the
    /// sync that acknowledges it, which then writes them all at disk speed after the body
    /// was received: a 1 GiB PUT took the time to receive it *plus* the time of a 1 GiB
    /// fdatasync. Started early, writeback overlaps the upload and the final sync has
    /// little left to do. Not a durability step (the sync still is); errors are left to it.
    func startWriteback(_ range: Range<UInt64>) {
        _ = strata_start_writeback(descriptor, Int64(range.lowerBound), Int64(range.count))
    }

    /// Writes all of `parts` contiguously at `offset` (pwritev, retried on short writes).
    func write(at offset: UInt64, _ parts: [UnsafeRawBufferPointer]) throws {
        var position = off_t(offset)
        var pending = parts.filter { $0.count > 0 }
        while !pending.isEmpty {
            var iov = pending.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
            let n = pwritev(descriptor, &iov, Int32(iov.count), position)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError("pwrite", path: path, errno: errno)
            }
            if n == 0 { throw IOError("pwrite", path: path, errno: EIO) }
            if let observer = faults?.observer {
                observer.wrote(path, at: UInt64(position), Self.first(n, bytesOf: pending))
            }
            position += off_t(n)
            var left = n
            while left > 0, let first = pending.first {
                if left >= first.count {
                    left -= first.count
                    pending.removeFirst()
                } else {
                    pending[0] = UnsafeRawBufferPointer(rebasing: first[left...])
                    left = 0
                }
            }
        }
    }

    /// The first `count` bytes of `parts`, as pieces.
    private static func first(_ count: Int, bytesOf parts: [UnsafeRawBufferPointer]) -> [UnsafeRawBufferPointer] {
        var left = count
        var out: [UnsafeRawBufferPointer] = []
        for part in parts where left > 0 {
            let n = min(left, part.count)
            out.append(UnsafeRawBufferPointer(rebasing: part[..<n]))
            left -= n
        }
        return out
    }

    /// Makes everything written so far durable (fdatasync).
    func sync() throws {
        guard let faults else { return try syncData() }
        let sync: () throws -> Void = {
            if let code = faults.syncFailure() { throw IOError("fdatasync", path: self.path, errno: code) }
            try self.syncData()
        }
        if let observer = faults.observer {
            try observer.sync(path, directory: false, sync)
        } else {
            try sync()
        }
    }

    /// fdatasync, retried when interrupted.
    private func syncData() throws {
        while fdatasync(descriptor) != 0 {
            if errno == EINTR { continue }
            throw IOError("fdatasync", path: path, errno: errno)
        }
    }

    func truncate(to size: UInt64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            throw IOError("ftruncate", path: path, errno: errno)
        }
        faults?.observer?.truncated(path, to: size)
    }

    /// Unlinks the file (open descriptors keep reading it).
    func remove() throws {
        guard unlink(path) == 0 else { throw IOError("unlink", path: path, errno: errno) }
        faults?.observer?.removed(path)
    }
}

/// fsyncs a directory so that a file created or removed in it survives a crash.
public func syncDirectory(_ path: String) throws {
    let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    guard fd >= 0 else { throw IOError("open", path: path, errno: errno) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw IOError("fsync", path: path, errno: errno) }
}

/// Creates a directory and its parents if they do not exist.
public func makeDirectories(_ path: String) throws {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw IOError("mkdir", path: current, errno: errno)
        }
    }
}
