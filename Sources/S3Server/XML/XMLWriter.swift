import NIOCore

/// A minimal streaming XML writer for S3 response documents: elements and escaped text,
/// nothing else (S3 documents use no attributes except `xmlns`).
///
/// Every text value goes through the escaping of ``escape(_:)``, so keys and user metadata
/// can never break the document (listing XML must escape everything: docs/S3-NOTES.md,
/// "Listing XML and encoding-type=url").
///
/// The document is built as bytes, not as a `String`: a ListObjectsV2 page of 1000 keys is about 200 KB, and building it through
/// `String` appends and interpolation was most of a listing's time (perf).
public struct XMLWriter: Sendable {
    private(set) var bytes: [UInt8] = []
    private var openElements: [String] = []

    /// The document written so far.
    public var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }

    /// The document written so far, as text.
    public var output: String { String(decoding: bytes, as: UTF8.self) }

    /// Starts a document, with the `<?xml …?>` declaration unless `declaration` is false.
    /// `capacity`: the bytes expected, so a large document (a listing page) is not
    /// copied as it grows.
    public init(declaration: Bool = true, capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
        if declaration { bytes.append(contentsOf: #"<?xml version="1.0" encoding="UTF-8"?>"#.utf8) }
    }

    /// Opens `<name>` (with an optional `xmlns`), to be closed by ``close()``.
    /// Further attributes are written in the order given.
    public mutating func open(_ name: String, namespace: String? = nil, attributes: KeyValuePairs<String, String> = [:]) {
        bytes.append(UInt8(ascii: "<"))
        bytes.append(contentsOf: name.utf8)
        if let namespace {
            bytes.append(contentsOf: " xmlns=\"".utf8)
            Self.writeEscaped(namespace, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        for (attribute, value) in attributes {
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: attribute.utf8)
            bytes.append(contentsOf: "=\"".utf8)
            Self.writeEscaped(value, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: ">"))
        openElements.append(name)
    }

    /// Closes the innermost open element.
    public mutating func close() {
        guard let name = openElements.popLast() else {
            preconditionFailure("XMLWriter.close() without an open element")
        }
        closeTag(name)
    }

    private mutating func closeTag(_ name: String) {
        bytes.append(UInt8(ascii: "<"))
        bytes.append(UInt8(ascii: "/"))
        Self.append(name, to: &bytes)
        bytes.append(UInt8(ascii: ">"))
    }

    private mutating func openTag(_ name: String) {
        bytes.append(UInt8(ascii: "<"))
        Self.append(name, to: &bytes)
        bytes.append(UInt8(ascii: ">"))
    }

    /// Appends the UTF-8 of `text` in one copy (`append(contentsOf: text.utf8)` goes
    /// through the generic sequence path, a tenth of a listing page in the profile).
    @inline(__always)
    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    /// Writes escaped text inside the innermost open element.
    public mutating func text(_ text: String) {
        Self.writeEscaped(text, to: &bytes)
    }

    /// Writes `<name>escaped text</name>`.
    public mutating func element(_ name: String, _ text: String) {
        openTag(name)
        Self.writeEscaped(text, to: &bytes)
        closeTag(name)
    }

    /// Writes `<name>&quot;escaped text&quot;</name>`: an ETag, which S3 documents show
    /// in quotes (the same bytes as escaping `"\(text)"`, without building that string per
    /// entry of a listing).
    public mutating func element(_ name: String, quoted text: String) {
        openTag(name)
        Self.append("&quot;", to: &bytes)
        Self.writeEscaped(text, to: &bytes)
        Self.append("&quot;", to: &bytes)
        closeTag(name)
    }

    /// Writes `<name>number</name>`.
    public mutating func element(_ name: String, _ number: some BinaryInteger) {
        openTag(name)
        if let value = UInt64(exactly: number) {
            // Digits formed on the stack, then one copy (`String(number)` per entry of a
            // listing showed in its profile).
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
            withUnsafeMutableBytes(of: &digits) { raw in
                var v = value, start = raw.count
                repeat {
                    start -= 1
                    raw[start] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                } while v > 0
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...]))
            }
        } else {
            Self.append(String(number), to: &bytes)
        }
        closeTag(name)
    }

    /// Writes `<name>2009-10-12T17:50:30.000Z</name>` for milliseconds since 1970.
    public mutating func element(_ name: String, iso8601Milliseconds milliseconds: Int64) {
        openTag(name)
        TimeFormat.writeISO8601(milliseconds: milliseconds, to: &bytes)
        closeTag(name)
    }

    /// Writes `<name>…</name>` around whatever `body` writes.
    public mutating func element(_ name: String, _ body: (inout XMLWriter) -> Void) {
        open(name)
        body(&self)
        close()
    }

    /// Escapes text for element content or attribute values.
    ///
    /// `&`, `<`, `>`, `"` and `'` become entities; carriage return, line feed and tab become
    /// numeric references so they survive XML whitespace normalisation; other C0 control
    /// characters become `&#xN;` references (which strict XML 1.0 parsers reject, but which
    /// keep the value intact for clients that asked for it; `encoding-type=url` is the
    /// portable way to list such keys).
    public static func escape(_ text: String) -> String {
        var bytes: [UInt8] = []
        writeEscaped(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0x27
    }

    static func writeEscaped(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: needsEscape) else {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
                case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
                case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
                case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
                case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
                case UInt8(ascii: "\r"): out.append(contentsOf: "&#13;".utf8)
                case UInt8(ascii: "\n"): out.append(contentsOf: "&#10;".utf8)
                case UInt8(ascii: "\t"): out.append(contentsOf: "&#9;".utf8)
                case let c where c < 0x20: out.append(contentsOf: "&#x\(String(c, radix: 16, uppercase: true));".utf8)
                default: out.append(byte)
                }
            }
        }
    }
}
