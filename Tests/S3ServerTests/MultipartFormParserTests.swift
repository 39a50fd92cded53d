import NIOCore
import XCTest
@testable import S3Server

/// The incremental multipart/form-data parser of browser POST uploads.
final class MultipartFormParserTests: XCTestCase {
    static let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW"

    static func form(_ parts: [(name: String, filename: String?, value: String)], preamble: String = "",
                     close: Bool = true) -> [UInt8] {
        var text = preamble
        for part in parts {
            text += "--\(boundary)\r\n"
            if let filename = part.filename {
                text += "Content-Disposition: form-data; name=\"\(part.name)\"; filename=\"\(filename)\"\r\n"
                text += "Content-Type: application/octet-stream\r\n\r\n"
            } else {
                text += "Content-Disposition: form-data; name=\"\(part.name)\"\r\n\r\n"
            }
            text += part.value + "\r\n"
        }
        if close { text += "--\(boundary)--\r\n" }
        return Array(text.utf8)
    }

    /// What a parse produced: each part's headers and its whole body.
    struct Part: Equatable {
        var headers: MultipartFormParser.PartHeaders
        var body: [UInt8]
    }

    static func parse(_ bytes: [UInt8], pieceSizes: [Int]) throws -> (parts: [Part], finished: Bool) {
        var parser = MultipartFormParser(boundary: boundary)
        var parts: [Part] = []
        var open = false
        var offset = 0
        var sizes = pieceSizes[...]
        while offset < bytes.count {
            let size = min(sizes.popFirst() ?? pieceSizes.last!, bytes.count - offset)
            for event in try parser.feed(ByteBuffer(bytes: bytes[offset..<(offset + size)])) {
                switch event {
                case .partStart(let headers):
                    XCTAssertFalse(open)
                    open = true
                    parts.append(Part(headers: headers, body: []))
                case .data(let data):
                    XCTAssertTrue(open)
                    parts[parts.count - 1].body += Array(data.readableBytesView)
                case .partEnd:
                    XCTAssertTrue(open)
                    open = false
                }
            }
            offset += size
        }
        return (parts, parser.isFinished)
    }

    func testFieldsAndFileParseWhateverThePieceSize() throws {
        let file = String(repeating: "0123456789abcdef\r\n-", count: 200) + "\r\n--" + "\r\n--" + String(Self.boundary.dropLast())
        let body = Self.form([("key", nil, "uploads/${filename}"), ("Policy", nil, "eyJ9"),
                              ("file", "a.txt", file), ("after", nil, "ignored")], preamble: "preamble text\r\n")
        let expected = try Self.parse(body, pieceSizes: [body.count])
        XCTAssertTrue(expected.finished)
        XCTAssertEqual(expected.parts.map(\.headers.name), ["key", "Policy", "file", "after"])
        XCTAssertEqual(expected.parts[2].headers.filename, "a.txt")
        XCTAssertEqual(expected.parts[2].headers.contentType, "application/octet-stream")
        XCTAssertEqual(expected.parts[2].body, Array(file.utf8))
        XCTAssertEqual(expected.parts[0].body, Array("uploads/${filename}".utf8))
        // A boundary split across pieces at every possible place, and tiny pieces.
        for split in stride(from: 1, to: body.count, by: 7) {
            let result = try Self.parse(body, pieceSizes: [split, body.count])
            XCTAssertEqual(result.parts, expected.parts, "split at \(split)")
            XCTAssertTrue(result.finished)
        }
        for size in [1, 2, 3, 5, 41, 42, 43] {
            let result = try Self.parse(body, pieceSizes: [size])
            XCTAssertEqual(result.parts, expected.parts, "pieces of \(size)")
        }
    }

    /// A body cut short before the closing boundary is not finished: `finish()` throws
    /// IncompleteBody, so nothing may be committed.
    func testTruncatedBodyIsNotFinished() throws {
        let body = Self.form([("key", nil, "k"), ("file", "f", "data")], close: false)
        let result = try Self.parse(body, pieceSizes: [10])
        XCTAssertFalse(result.finished)
        var parser = MultipartFormParser(boundary: Self.boundary)
        _ = try parser.feed(ByteBuffer(bytes: body))
        XCTAssertThrowsError(try parser.finish()) { XCTAssertEqual(($0 as? S3Error)?.code, "IncompleteBody") }
    }

    func testMalformedPartsAreRefused() throws {
        let noDisposition = Array("--\(Self.boundary)\r\nContent-Type: text/plain\r\n\r\nx\r\n--\(Self.boundary)--".utf8)
        var parser = MultipartFormParser(boundary: Self.boundary)
        XCTAssertThrowsError(try parser.feed(ByteBuffer(bytes: noDisposition))) {
            XCTAssertEqual(($0 as? S3Error)?.code, "MalformedPOSTRequest")
        }
        let garbageAfterBoundary = Array("--\(Self.boundary)XX\r\n".utf8)
        parser = MultipartFormParser(boundary: Self.boundary)
        XCTAssertThrowsError(try parser.feed(ByteBuffer(bytes: garbageAfterBoundary)))
        let hugeHeaders = Array(("--\(Self.boundary)\r\nX: " + String(repeating: "a", count: 20_000)).utf8)
        parser = MultipartFormParser(boundary: Self.boundary)
        XCTAssertThrowsError(try parser.feed(ByteBuffer(bytes: hugeHeaders)))
    }

    func testContentTypeBoundaryAndDispositionParameters() {
        XCTAssertEqual(MultipartFormParser.boundary(contentType: "multipart/form-data; boundary=abc"), "abc")
        XCTAssertEqual(MultipartFormParser.boundary(contentType: "Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\""), "a b;c")
        XCTAssertNil(MultipartFormParser.boundary(contentType: "multipart/form-data"))
        XCTAssertNil(MultipartFormParser.boundary(contentType: "text/plain; boundary=abc"))
        let parsed = MultipartFormParser.parameters(#"form-data; name="file"; filename="a \"quoted\"; name.txt""#)
        XCTAssertEqual(parsed.value, "form-data")
        XCTAssertEqual(parsed.fields["name"], "file")
        XCTAssertEqual(parsed.fields["filename"], #"a "quoted"; name.txt"#)
    }
}
