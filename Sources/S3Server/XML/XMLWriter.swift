/// A minimal streaming XML writer for S3 response documents: elements and escaped text,
/// nothing else (S3 documents use no attributes except `xmlns`).
///
/// Every text value goes through ``escape(_:)``, so keys and user metadata can never break
/// the document (pitfall 8: listing XML must escape everything).
public struct XMLWriter: Sendable {
    /// The document written so far.
    public private(set) var output: String
    private var openElements: [String] = []

    /// Starts a document, with the `<?xml …?>` declaration unless `declaration` is false.
    public init(declaration: Bool = true) {
        output = declaration ? #"<?xml version="1.0" encoding="UTF-8"?>"# : ""
    }

    /// Opens `<name>` (with an optional `xmlns`), to be closed by ``close()``.
    public mutating func open(_ name: String, namespace: String? = nil) {
        if let namespace {
            output += "<\(name) xmlns=\"\(XMLWriter.escape(namespace))\">"
        } else {
            output += "<\(name)>"
        }
        openElements.append(name)
    }

    /// Closes the innermost open element.
    public mutating func close() {
        guard let name = openElements.popLast() else {
            preconditionFailure("XMLWriter.close() without an open element")
        }
        output += "</\(name)>"
    }

    /// Writes escaped text inside the innermost open element.
    public mutating func text(_ text: String) {
        output += XMLWriter.escape(text)
    }

    /// Writes `<name>escaped text</name>`.
    public mutating func element(_ name: String, _ text: String) {
        output += "<\(name)>\(XMLWriter.escape(text))</\(name)>"
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
        var needsWork = false
        for byte in text.utf8 where byte < 0x20 || byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0x27 {
            needsWork = true
            break
        }
        guard needsWork else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            default:
                if scalar.value < 0x20 {
                    out += "&#x\(String(scalar.value, radix: 16, uppercase: true));"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
