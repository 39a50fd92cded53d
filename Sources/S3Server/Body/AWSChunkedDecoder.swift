import NIOCore

/// Decodes a `Content-Encoding: aws-chunked` body as it streams in.
///
/// Wire format (sigv4-streaming, sigv4-streaming-trailers):
/// ```
/// chunk      = hex-size [";chunk-signature=" 64HEX] CRLF data CRLF
/// last-chunk = "0" [";chunk-signature=" 64HEX] CRLF
/// trailers   = *(name ":" value CRLF) CRLF
/// body       = *chunk last-chunk trailers
/// ```
/// A value-type state machine (in the async-http-client style): feed it whatever bytes
/// arrived, in any split, and act on the returned ``Action``s. Payload bytes come out as
/// slices of the input (never the framing), so nothing is buffered but partial framing
/// lines; checking a chunk's signature is left to the caller (``ChunkedBodyVerifier``),
/// which hashes the data slices as they pass.
public struct AWSChunkedDecoder: Sendable {
    /// One trailing header.
    public struct Trailer: Sendable, Hashable {
        /// The name, lowercased.
        public var name: String
        /// The value, trimmed.
        public var value: String

        /// Creates a trailer.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// What the caller should do next.
    public enum Action: Sendable, Hashable {
        /// A chunk header was read: `size` bytes of data follow (0 for the final chunk).
        case chunkStarted(size: Int, signature: String?)
        /// Payload bytes of the current chunk.
        case data(ByteBuffer)
        /// The current chunk's data (and its CRLF) are complete.
        case chunkEnded
        /// The trailer section (possibly empty), in the order sent.
        case trailers([Trailer])
        /// The body is complete; nothing may follow.
        case end
    }

    /// Framing errors. ``s3Error`` gives the S3 error to answer with.
    public enum DecodingError: Error, Sendable, Hashable {
        /// The chunk-size line is not `hex[;chunk-signature=64hex]`.
        case malformedChunkHeader
        /// The chunk-size line is longer than the limit.
        case chunkHeaderTooLong
        /// The chunk size does not fit the limits.
        case chunkSizeTooLarge
        /// A line or chunk data was not followed by CRLF.
        case missingCRLF
        /// A trailer line is not `name:value`.
        case malformedTrailer
        /// The trailer section exceeds the limit.
        case trailersTooLong
        /// Bytes arrived after the end of the body.
        case dataAfterEnd
        /// The stream ended before the body did.
        case bodyEndedEarly

        /// The S3 error for this failure.
        public var s3Error: S3Error {
            switch self {
            case .malformedChunkHeader: return .invalidRequest("The chunk header of the aws-chunked body is malformed.")
            case .chunkHeaderTooLong: return .invalidRequest("The chunk header of the aws-chunked body is too long.")
            case .chunkSizeTooLarge: return .invalidRequest("The chunk size of the aws-chunked body is too large.")
            case .missingCRLF: return .incompleteBody("The aws-chunked body is missing a CRLF after chunk data or a chunk header.")
            case .malformedTrailer: return .malformedTrailerError()
            case .trailersTooLong: return .malformedTrailerError("The trailing headers of the aws-chunked body are too long.")
            case .dataAfterEnd: return .invalidRequest("Data was sent after the end of the aws-chunked body.")
            case .bodyEndedEarly: return .incompleteBody()
            }
        }
    }

    /// Limits against hostile framing.
    public struct Limits: Sendable, Hashable {
        /// Longest chunk-size line, without CRLF.
        public var maxChunkHeaderLength: Int
        /// Largest trailer section, in bytes.
        public var maxTrailerBytes: Int
        /// Largest single chunk.
        public var maxChunkSize: Int

        /// Creates limits; the defaults are generous for every SDK.
        public init(maxChunkHeaderLength: Int = 4096, maxTrailerBytes: Int = 16_384, maxChunkSize: Int = 1 << 40) {
            self.maxChunkHeaderLength = maxChunkHeaderLength
            self.maxTrailerBytes = maxTrailerBytes
            self.maxChunkSize = maxChunkSize
        }
    }

    private enum State: Sendable {
        /// Reading a chunk-size line; holds the bytes so far.
        case chunkHeader([UInt8])
        /// Inside chunk data.
        case chunkData(remaining: Int)
        /// After chunk data: expecting CR (false) or LF (true).
        case chunkDataEnd(sawCR: Bool)
        /// After the final chunk: reading trailer lines.
        case trailers(line: [UInt8], parsed: [Trailer], total: Int)
        /// Finished.
        case done
        /// Failed; every further call fails the same way.
        case failed(DecodingError)
    }

    private var state: State = .chunkHeader([])
    /// The limits in force.
    public let limits: Limits

    /// Creates a decoder at the start of a body.
    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether the whole body, trailers included, has been decoded.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Consumes all readable bytes of `buffer` and returns what they decode to.
    public mutating func feed(_ buffer: inout ByteBuffer) throws(DecodingError) -> [Action] {
        var actions: [Action] = []
        do {
            while buffer.readableBytes > 0 {
                try step(&buffer, &actions)
            }
        } catch {
            state = .failed(error)
            throw error
        }
        return actions
    }

    /// Signals the end of the request body. Throws ``DecodingError/bodyEndedEarly`` unless
    /// the body was complete.
    ///
    /// One leniency: a stream that ends right after the final chunk's line, with no trailer
    /// and without the closing CRLF, is accepted.
    public mutating func finish() throws(DecodingError) -> [Action] {
        switch state {
        case .done:
            return []
        case .trailers(let line, let parsed, _) where line.isEmpty && parsed.isEmpty:
            state = .done
            return [.trailers([]), .end]
        case .failed(let error):
            throw error
        default:
            state = .failed(.bodyEndedEarly)
            throw .bodyEndedEarly
        }
    }

    private mutating func step(_ buffer: inout ByteBuffer, _ actions: inout [Action]) throws(DecodingError) {
        switch state {
        case .failed(let error):
            throw error

        case .done:
            throw .dataAfterEnd

        case .chunkData(let remaining):
            let n = min(remaining, buffer.readableBytes)
            actions.append(.data(buffer.readSlice(length: n)!))
            state = remaining == n ? .chunkDataEnd(sawCR: false) : .chunkData(remaining: remaining - n)

        case .chunkDataEnd(let sawCR):
            let byte = buffer.readInteger(as: UInt8.self)!
            if !sawCR {
                guard byte == UInt8(ascii: "\r") else { throw .missingCRLF }
                state = .chunkDataEnd(sawCR: true)
            } else {
                guard byte == UInt8(ascii: "\n") else { throw .missingCRLF }
                actions.append(.chunkEnded)
                state = .chunkHeader([])
            }

        case .chunkHeader(var line):
            state = .done // drop the array reference so appends stay unique
            // A valid line is at most maxChunkHeaderLength bytes plus CR.
            let allowed = limits.maxChunkHeaderLength + 1
            guard let length = takeLine(&buffer, into: &line, cap: allowed + 1) else {
                if line.count > allowed { throw .chunkHeaderTooLong }
                state = .chunkHeader(line)
                return
            }
            guard length <= allowed else { throw .chunkHeaderTooLong }
            guard line.last == UInt8(ascii: "\r") else { throw .missingCRLF }
            line.removeLast()
            let (size, signature) = try parseChunkHeader(line)
            actions.append(.chunkStarted(size: size, signature: signature))
            if size == 0 {
                actions.append(.chunkEnded)
                state = .trailers(line: [], parsed: [], total: 0)
            } else {
                state = .chunkData(remaining: size)
            }

        case .trailers(var line, var parsed, let total):
            state = .done
            let before = line.count
            let complete = takeLine(&buffer, into: &line, cap: limits.maxTrailerBytes + 1) != nil
            let newTotal = total + (line.count - before) + (complete ? 1 : 0)
            guard newTotal <= limits.maxTrailerBytes else { throw .trailersTooLong }
            guard complete else {
                state = .trailers(line: line, parsed: parsed, total: newTotal)
                return
            }
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.isEmpty {
                actions.append(.trailers(parsed))
                actions.append(.end)
                state = .done
                return
            }
            parsed.append(try parseTrailer(line))
            state = .trailers(line: [], parsed: parsed, total: newTotal)
        }
    }

    /// Appends bytes up to and excluding LF to `line` (keeping at most `cap` bytes in it),
    /// consuming them and the LF. Returns the full line length once the LF arrived, or nil
    /// (having consumed everything) if it has not yet.
    private func takeLine(_ buffer: inout ByteBuffer, into line: inout [UInt8], cap: Int) -> Int? {
        let view = buffer.readableBytesView
        let room = max(0, cap - line.count)
        if let lf = view.firstIndex(of: UInt8(ascii: "\n")) {
            let count = lf - view.startIndex
            let length = line.count + count
            line.append(contentsOf: view[view.startIndex..<lf].prefix(room))
            buffer.moveReaderIndex(forwardBy: count + 1)
            return length
        }
        line.append(contentsOf: view.prefix(room))
        buffer.moveReaderIndex(forwardBy: view.count)
        return nil
    }

    private func parseChunkHeader(_ line: [UInt8]) throws(DecodingError) -> (Int, String?) {
        guard line.count <= limits.maxChunkHeaderLength else { throw .chunkHeaderTooLong }
        let semicolon = line.firstIndex(of: UInt8(ascii: ";")) ?? line.endIndex
        let hex = line[..<semicolon]
        guard !hex.isEmpty else { throw .malformedChunkHeader }
        var size = 0
        for c in hex {
            guard let digit = Hex.nibble(c) else { throw .malformedChunkHeader }
            guard size <= (Int.max >> 4) else { throw .chunkSizeTooLarge }
            size = size << 4 | Int(digit)
        }
        guard size <= limits.maxChunkSize else { throw .chunkSizeTooLarge }
        var signature: String?
        if semicolon < line.endIndex {
            for ext in line[(semicolon + 1)...].split(separator: UInt8(ascii: ";")) {
                let text = String(decoding: ext, as: UTF8.self)
                let prefix = "chunk-signature="
                if text.hasPrefix(prefix) {
                    let value = String(text.dropFirst(prefix.count))
                    guard Hex.isHex(value, length: 64), signature == nil else { throw .malformedChunkHeader }
                    signature = value.lowercased()
                }
                // Other chunk extensions carry nothing S3 defines; they are ignored.
            }
        }
        return (size, signature)
    }

    private func parseTrailer(_ line: [UInt8]) throws(DecodingError) -> Trailer {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedTrailer }
        let name = String(decoding: line[..<colon], as: UTF8.self).trimmingSpaces().lowercased()
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces()
        guard !name.isEmpty else { throw .malformedTrailer }
        return Trailer(name: name, value: String(value))
    }
}
