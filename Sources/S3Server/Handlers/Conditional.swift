import Foundation
import NIOHTTP1

/// The conditional-request headers of GET and HEAD (and, with the `x-amz-copy-source-`
/// prefix, of CopyObject), evaluated in the order S3 documents: If-Match before
/// If-Unmodified-Since, If-None-Match before If-Modified-Since.
enum Conditional {
    /// Returns nil when the request goes ahead, `.notModified` for a 304; throws
    /// PreconditionFailed for a 412.
    /// - Parameter prefix: `""` for GET/HEAD, `"x-amz-copy-source-"` for CopyObject, where
    ///   every failed condition is a 412.
    static func evaluate(_ headers: HTTPHeaders, etag: String, lastModified: Int64,
                         prefix: String = "") throws -> HTTPResponseStatus? {
        let modifiedSeconds = lastModified / 1000
        let ifMatch = headers.first(name: prefix + "if-match")
        let ifNoneMatch = headers.first(name: prefix + "if-none-match")
        if let ifMatch {
            guard matches(ifMatch, etag: etag) else { throw S3Error.preconditionFailed(condition: "If-Match") }
        } else if let since = headers.first(name: prefix + "if-unmodified-since"), let date = AmzDate.parseHTTPDate(since),
                  modifiedSeconds > date {
            throw S3Error.preconditionFailed(condition: "If-Unmodified-Since")
        }
        var notModified = false
        if let ifNoneMatch {
            notModified = matches(ifNoneMatch, etag: etag)
        } else if let since = headers.first(name: prefix + "if-modified-since"), let date = AmzDate.parseHTTPDate(since) {
            notModified = modifiedSeconds <= date
        }
        guard notModified else { return nil }
        if !prefix.isEmpty {
            throw S3Error.preconditionFailed(condition: ifNoneMatch != nil ? "If-None-Match" : "If-Modified-Since")
        }
        return .notModified
    }

    /// Whether an If-Match / If-None-Match list names `etag` (or is `*`).
    static func matches(_ list: String, etag: String) -> Bool {
        for item in list.split(separator: ",") {
            var tag = item.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag.hasPrefix("\""), tag.hasSuffix("\""), tag.count >= 2 { tag = String(tag.dropFirst().dropLast()) }
            if tag == etag { return true }
        }
        return false
    }
}

/// A `Range: bytes=…` header against an object of a given size, read as S3 reads it
/// (docs/S3-NOTES.md, "Range requests").
enum ByteRange: Equatable {
    /// Not a single byte range S3 understands: the whole object is sent.
    case ignored
    /// 416, with `Content-Range: bytes */size`.
    case unsatisfiable
    /// The bytes to send (clamped to the object).
    case satisfiable(Range<UInt64>)

    static func parse(_ header: String, size: UInt64) -> ByteRange {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes=") else { return .ignored }
        let spec = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .ignored }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = UInt64(last) else { return .ignored }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable((size - min(suffix, size))..<size)
        }
        guard let start = UInt64(first) else { return .ignored }
        var lastByte = UInt64.max
        if !last.isEmpty {
            guard let value = UInt64(last), value >= start else { return .ignored }
            lastByte = value
        }
        guard start < size else { return .unsatisfiable }
        return .satisfiable(start..<(min(lastByte, size - 1) + 1))
    }
}
