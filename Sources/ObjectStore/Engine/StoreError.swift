/// An error of the storage engine, in S3's terms so the HTTP layer can map it 1:1.
public struct StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case noSuchBucket = "NoSuchBucket"
        case bucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
        case bucketNotEmpty = "BucketNotEmpty"
        case noSuchKey = "NoSuchKey"
        /// A well-formed version id that names no version of the key.
        case noSuchVersion = "NoSuchVersion"
        /// GET/HEAD of a delete marker by its version id.
        case methodNotAllowed = "MethodNotAllowed"
        case preconditionFailed = "PreconditionFailed"
        case invalidBucketName = "InvalidBucketName"
        case keyTooLong = "KeyTooLongError"
        case invalidArgument = "InvalidArgument"
        case badDigest = "BadDigest"
        case invalidRange = "InvalidRange"
        case noSuchUpload = "NoSuchUpload"
        case invalidPart = "InvalidPart"
        case invalidPartOrder = "InvalidPartOrder"
        case entityTooSmall = "EntityTooSmall"
        /// The disk is full: writes fail, reads go on.
        case outOfSpace = "InsufficientStorage"
        /// The store no longer takes writes (a sync failed).
        case readOnly = "ServiceUnavailable"
        /// A transient conflict: the client should retry later.
        case slowDown = "SlowDown"
        /// Bytes on disk do not match their checksum or the index.
        case corrupt = "Corrupt"
        case internalError = "InternalError"
        /// A version Object Lock protects (retention or legal hold) cannot be removed.
        case objectLocked = "AccessDenied"
        /// The bucket's state forbids the change (versioning cannot be suspended on a
        /// bucket with Object Lock).
        case invalidBucketState = "InvalidBucketState"
        /// No snapshot has the name (`strata snapshot`).
        case noSuchSnapshot = "NoSuchSnapshot"
        /// Every snapshot slot is taken.
        case tooManySnapshots = "TooManySnapshots"
    }

    public var code: Code
    public var message: String
    /// Set when the answer is about a delete marker (NoSuchKey because the current
    /// version is one, MethodNotAllowed for a marker addressed by id, a DELETE that
    /// made or removed one): S3 then sends `x-amz-delete-marker` and the marker's
    /// version id and time.
    public var deleteMarker: DeleteMarker?

    /// The delete marker an error is about.
    public struct DeleteMarker: Equatable, Sendable {
        /// `null` for the null version.
        public var versionID: String
        /// Milliseconds since 1970.
        public var lastModified: Int64
    }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func noSuchBucket(_ name: String) -> StoreError { .init(.noSuchBucket, "The specified bucket does not exist: \(name)") }
    static func noSuchKey(_ key: String) -> StoreError { .init(.noSuchKey, "The specified key does not exist: \(key)") }
    static func noSuchUpload(_ id: String) -> StoreError {
        .init(.noSuchUpload, "The specified upload does not exist: \(id). It may have been aborted or completed.")
    }

    /// Maps a lower-layer error to a store error.
    static func wrap(_ error: Error) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? IOErrorConvertible { return e.storeError }
        return StoreError(.internalError, "\(error)")
    }
}

protocol IOErrorConvertible { var storeError: StoreError { get } }

import SegmentLog

extension IOError: IOErrorConvertible {
    var storeError: StoreError {
        isOutOfSpace ? StoreError(.outOfSpace, "The disk is full: \(self)") : StoreError(.internalError, "\(self)")
    }
}

extension SegmentLog.SyncFailed: IOErrorConvertible {
    var storeError: StoreError { StoreError(.readOnly, "\(self)") }
}
