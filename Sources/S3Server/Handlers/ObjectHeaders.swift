import Foundation
import NIOHTTP1
import ObjectStore

/// Which request headers are stored with an object and how they come back.
enum ObjectHeaders {
    /// Standard headers stored as sent and returned by GET/HEAD.
    static let stored = ["content-type", "content-encoding", "content-disposition", "content-language",
                         "cache-control", "expires", "x-amz-storage-class", "x-amz-website-redirect-location"]

    /// What S3 answers as Content-Type for an object stored without one.
    static let defaultContentType = "binary/octet-stream"

    /// S3's limit on the size of user metadata (names and values of x-amz-meta-*).
    static let maxUserMetadataBytes = 2048

    /// The metadata a PUT (or a CopyObject with REPLACE) stores.
    static func metadata(from headers: HTTPHeaders) throws -> [String: String] {
        var metadata: [String: String] = [:]
        var userBytes = 0
        for (name, value) in headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-meta-") {
                userBytes += lower.utf8.count - "x-amz-meta-".utf8.count + value.utf8.count
                // Repeated headers are joined as S3 does.
                metadata[lower] = metadata[lower].map { "\($0),\(value)" } ?? value
            } else if stored.contains(lower) {
                metadata[lower] = value
            }
        }
        if userBytes > maxUserMetadataBytes {
            throw S3Error.metadataTooLarge(size: userBytes, maxSizeAllowed: maxUserMetadataBytes)
        }
        // aws-chunked is the framing of this request, not an encoding of the object: it is
        // removed, and the rest is stored as sent (S3 returns `deflate, gzip` as is).
        if let encoding = metadata["content-encoding"] {
            let items = encoding.split(separator: ",", omittingEmptySubsequences: false)
            let kept = items.filter { $0.trimmingCharacters(in: .whitespaces).lowercased() != "aws-chunked" }
            let value = kept.count == items.count ? encoding : kept.joined(separator: ",").trimmingCharacters(in: .whitespaces)
            metadata["content-encoding"] = value.isEmpty ? nil : value
        }
        if let storageClass = metadata["x-amz-storage-class"] {
            guard validStorageClasses.contains(storageClass) else {
                throw S3Error.invalidStorageClass(storageClass)
            }
            if storageClass == "STANDARD" { metadata["x-amz-storage-class"] = nil }
        }
        return metadata
    }

    static let validStorageClasses: Set<String> = [
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
        "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
    ]

    /// The headers of a GET/HEAD response describing `info`.
    static func add(_ info: ObjectInfo, to headers: inout HTTPHeaders, checksums: Bool) {
        headers.add(name: "ETag", value: "\"\(info.etag)\"")
        headers.add(name: "Last-Modified", value: TimeFormat.httpDate(milliseconds: info.lastModified))
        headers.add(name: "Accept-Ranges", value: "bytes")
        headers.add(name: "Content-Type", value: info.metadata["content-type"] ?? defaultContentType)
        for (name, value) in info.metadata.sorted(by: { $0.key < $1.key }) where name != "content-type" {
            headers.add(name: name, value: value)
        }
        if checksums { addChecksums(info, to: &headers) }
        // S3 sends the number of tags on GET and HEAD when there are any.
        if !info.tags.isEmpty { headers.add(name: "x-amz-tagging-count", value: String(info.tags.count)) }
    }

    /// The tags of an `x-amz-tagging` header, empty without one.
    static func tags(from headers: HTTPHeaders) throws -> [String: String] {
        guard let value = headers.first(name: "x-amz-tagging") else { return [:] }
        return try TagSet.parseHeader(value).tags
    }

    /// `x-amz-checksum-*` headers for the checksums stored with `info`.
    static func addChecksums(_ info: ObjectInfo, to headers: inout HTTPHeaders) {
        for (name, value) in info.checksums.sorted(by: { $0.key < $1.key }) {
            headers.add(name: "x-amz-checksum-\(name.lowercased())", value: value)
        }
        if let type = checksumType(info.checksums) {
            headers.add(name: "x-amz-checksum-type", value: type)
        }
    }

    /// The `x-amz-checksum-type` of an object's checksums, nil when it has none. A
    /// COMPOSITE checksum (a checksum of a multipart object's part checksums) is stored
    /// with its `-N` part count, which base64 never contains; every other checksum,
    /// a multipart upload's combined CRC included, covers the full object.
    static func checksumType(_ checksums: [String: String]) -> String? {
        guard let value = checksums.values.first else { return nil }
        return value.contains("-") ? "COMPOSITE" : "FULL_OBJECT"
    }

    /// `response-*` query parameters override these response headers (GetObject).
    static let overrides = ["response-content-type": "Content-Type", "response-content-language": "Content-Language",
                            "response-expires": "Expires", "response-cache-control": "Cache-Control",
                            "response-content-disposition": "Content-Disposition",
                            "response-content-encoding": "Content-Encoding"]
}
