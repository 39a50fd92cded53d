import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a small file so that after a crash it is either absent or whole, never torn:
/// the bytes go to a new file of a unique name, are synced, and the file is then put in
/// place by one `link` (keep an existing file) or `rename` (replace it); the directory is
/// synced last, so the new name itself survives a crash.
enum DurableFile {
    struct WriteError: Error, CustomStringConvertible {
        var description: String
    }

    /// Writes `contents` to `path` with permissions `mode`.
    /// - Parameter replace: replace an existing file; otherwise keep it and return false.
    /// - Returns: whether `path` now holds `contents`.
    @discardableResult
    static func write(_ contents: [UInt8], to path: String, mode: mode_t, replace: Bool) throws -> Bool {
        let temporary = path + ".\(UUID().uuidString).tmp"
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(description: "\(temporary): cannot create: \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        var done = 0
        while done < contents.count {
            let n = contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                throw WriteError(description: "\(temporary): cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        // The mode given to open() is narrowed by the umask; a key file must be 0600 exactly.
        let synced = fchmod(fd, mode) == 0 && fsync(fd) == 0
        close(fd)
        guard synced else { throw WriteError(description: "\(temporary): cannot sync: \(String(cString: strerror(errno)))") }
        let placed: Bool
        if replace {
            guard rename(temporary, path) == 0 else {
                throw WriteError(description: "\(path): cannot put in place: \(String(cString: strerror(errno)))")
            }
            placed = true
        } else if link(temporary, path) == 0 {
            placed = true
        } else if errno == EEXIST {
            placed = false
        } else {
            throw WriteError(description: "\(path): cannot put in place: \(String(cString: strerror(errno)))")
        }
        try syncDirectory(of: path)
        return placed
    }

    /// Makes a new name in the directory of `path` durable.
    static func syncDirectory(of path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteError(description: "\(directory): cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw WriteError(description: "\(directory): cannot sync: \(String(cString: strerror(errno)))") }
    }
}
