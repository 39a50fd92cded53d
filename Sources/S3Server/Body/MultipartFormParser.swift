import Foundation
import NIOCore

/// An incremental `multipart/form-data` parser (RFC 7578 / RFC 2046) for browser POST
/// uploads: fed the body piece by piece as it arrives, it hands out part headers and
/// part data without ever holding more than a boundary's length of a part's data, so a
/// 5 GiB file streams through at flat memory. A boundary split across pieces is found
/// all the same: the last `delimiter.count - 1` bytes of a piece are kept back until
/// the next one shows whether they start a delimiter.
struct MultipartFormParser {
    /// The headers of one part.
    struct PartHeaders: Sendable, Equatable {
        /// The form field name (`Content-Disposition: form-data; name="…"`).
        var name: String
        /// The file name, for a file part.
        var filename: String?
        /// The part's own Content-Type, if any.
        var contentType: String?
    }

    enum Event: Equatable {
        /// A part begins.
        case partStart(PartHeaders)
        /// Bytes of the current part's body.
        case data(ByteBuffer)
        /// The current part ended.
        case partEnd
    }

    private enum State {
        /// Before the first delimiter (preamble).
        case preamble
        /// Just after a delimiter: `--` (the end) or a line break (a part follows).
        case afterDelimiter
        case headers
        case body
        /// After the closing delimiter: the epilogue is ignored.
        case done
    }

    /// The most bytes a part's header block may take.
    static let maxHeaderBytes = 16 * 1024

    /// `CRLF--boundary`: what ends a part's body.
    private let delimiter: [UInt8]
    private var buffer: ByteBuffer
    private var state = State.preamble

    /// Whether the closing delimiter has been seen.
    var isFinished: Bool { state == .done }

    /// - Parameter boundary: the `boundary` parameter of the request's Content-Type.
    init(boundary: String) {
        delimiter = Array("\r\n--\(boundary)".utf8)
        // The first delimiter may open the body without a line break before it: a
        // virtual CRLF lets the preamble search treat it like every other delimiter.
        buffer = ByteBuffer(bytes: [0x0D, 0x0A])
    }

    /// The `boundary` parameter of a `multipart/form-data` Content-Type, if present and
    /// valid (1 to 70 characters, RFC 2046).
    static func boundary(contentType: String) -> String? {
        let parameters = Self.parameters(contentType)
        guard parameters.value.lowercased() == "multipart/form-data",
              let boundary = parameters.fields["boundary"], (1...70).contains(boundary.utf8.count) else { return nil }
        return boundary
    }

    /// Consumes `piece` and returns what it completed.
    /// - Throws: MalformedPOSTRequest when the body is not well-formed multipart data.
    mutating func feed(_ piece: ByteBuffer) throws -> [Event] {
        var piece = piece
        if state == .done { return [] }  // epilogue
        buffer.writeBuffer(&piece)
        var events: [Event] = []
        loop: while true {
            switch state {
            case .preamble:
                guard let at = find(delimiter) else {
                    // Keep only what could be the start of the delimiter.
                    buffer.moveReaderIndex(forwardBy: max(0, buffer.readableBytes - (delimiter.count - 1)))
                    break loop
                }
                buffer.moveReaderIndex(forwardBy: at + delimiter.count)
                state = .afterDelimiter
            case .afterDelimiter:
                // Transport padding (spaces, tabs) may follow a delimiter before its CRLF.
                guard let view = buffer.readableBytesView.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { break loop }
                let padding = view - buffer.readableBytesView.startIndex
                guard buffer.readableBytes - padding >= 2 else { break loop }
                let a = buffer.getInteger(at: buffer.readerIndex + padding, as: UInt8.self)!
                let b = buffer.getInteger(at: buffer.readerIndex + padding + 1, as: UInt8.self)!
                if padding == 0, a == UInt8(ascii: "-"), b == UInt8(ascii: "-") {
                    state = .done
                    buffer.clear()
                    break loop
                }
                guard a == 0x0D, b == 0x0A else { throw Self.malformed }
                buffer.moveReaderIndex(forwardBy: padding + 2)
                state = .headers
            case .headers:
                // A part without headers: the blank line comes right away.
                let end: Int
                if buffer.readableBytesView.starts(with: [0x0D, 0x0A]) {
                    end = 0
                } else if let at = find([0x0D, 0x0A, 0x0D, 0x0A]) {
                    end = at + 2
                } else {
                    guard buffer.readableBytes <= Self.maxHeaderBytes else { throw Self.malformed }
                    break loop
                }
                guard end <= Self.maxHeaderBytes else { throw Self.malformed }
                let block = buffer.readBytes(length: end)!
                buffer.moveReaderIndex(forwardBy: 2)
                events.append(.partStart(try Self.partHeaders(block)))
                state = .body
            case .body:
                if let at = find(delimiter) {
                    if at > 0 { events.append(.data(buffer.readSlice(length: at)!)) }
                    buffer.moveReaderIndex(forwardBy: delimiter.count)
                    events.append(.partEnd)
                    state = .afterDelimiter
                } else {
                    let safe = buffer.readableBytes - (delimiter.count - 1)
                    if safe > 0 { events.append(.data(buffer.readSlice(length: safe)!)) }
                    break loop
                }
            case .done:
                break loop
            }
        }
        buffer.discardReadBytes()
        return events
    }

    /// Checks that the body ended where multipart data may end.
    /// - Throws: IncompleteBody when the closing delimiter never came.
    func finish() throws {
        guard state == .done else {
            throw S3Error.incompleteBody("The request body ended before the closing boundary of its multipart/form-data.")
        }
    }

    static let malformed = S3Error.malformedPOSTRequest()

    /// The offset of `needle` in the buffer's readable bytes.
    private func find(_ needle: [UInt8]) -> Int? {
        buffer.withUnsafeReadableBytes { haystack -> Int? in
            guard haystack.count >= needle.count, let base = haystack.baseAddress else { return nil }
            let first = Int32(needle[0])
            var start = 0
            let last = haystack.count - needle.count
            while start <= last {
                guard let hit = memchr(base + start, first, last - start + 1) else { return nil }
                let offset = base.distance(to: UnsafeRawPointer(hit))
                if needle.withUnsafeBytes({ memcmp(base + offset, $0.baseAddress!, needle.count) }) == 0 {
                    return offset
                }
                start = offset + 1
            }
            return nil
        }
    }

    /// Parses a part's header block (lines ending in CRLF).
    static func partHeaders(_ block: [UInt8]) throws -> PartHeaders {
        let text = String(decoding: block, as: UTF8.self)
        var disposition: String?
        var contentType: String?
        for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw malformed }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-disposition" { disposition = value }
            if name == "content-type" { contentType = value }
        }
        guard let disposition else { throw malformed }
        let parsed = parameters(disposition)
        guard parsed.value.lowercased() == "form-data", let name = parsed.fields["name"] else { throw malformed }
        return PartHeaders(name: name, filename: parsed.fields["filename"], contentType: contentType)
    }

    /// Splits `value; a=b; c="d;e"` into the value and its parameters (names
    /// lowercased, quoted strings unquoted).
    static func parameters(_ header: String) -> (value: String, fields: [String: String]) {
        var fields: [String: String] = [:]
        let chars = Array(header.unicodeScalars)
        var i = 0
        func skipSpaces() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }
        var value = ""
        while i < chars.count, chars[i] != ";" { value.unicodeScalars.append(chars[i]); i += 1 }
        while i < chars.count {
            i += 1  // the ';'
            skipSpaces()
            var name = ""
            while i < chars.count, chars[i] != "=", chars[i] != ";" { name.unicodeScalars.append(chars[i]); i += 1 }
            var text = ""
            if i < chars.count, chars[i] == "=" {
                i += 1
                skipSpaces()
                if i < chars.count, chars[i] == "\"" {
                    i += 1
                    while i < chars.count, chars[i] != "\"" {
                        if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                        text.unicodeScalars.append(chars[i])
                        i += 1
                    }
                    i += 1  // closing quote
                    while i < chars.count, chars[i] != ";" { i += 1 }
                } else {
                    while i < chars.count, chars[i] != ";" { text.unicodeScalars.append(chars[i]); i += 1 }
                    text = text.trimmingCharacters(in: .whitespaces)
                }
            }
            let key = name.trimmingCharacters(in: .whitespaces).lowercased()
            if !key.isEmpty, fields[key] == nil { fields[key] = text }
        }
        return (value.trimmingCharacters(in: .whitespaces), fields)
    }
}
