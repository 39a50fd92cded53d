/// One element of a parsed S3 request body: a tiny read-only DOM, enough for the small
/// documents S3 requests carry (`Delete`, `CreateBucketConfiguration`, …).
///
/// Attributes are dropped (S3 request documents use none besides `xmlns`), and so are
/// comments and processing instructions.
public struct XMLTree: Sendable, Hashable {
    /// The local name, with any namespace prefix stripped (`s3:Key` → `Key`).
    public var name: String
    /// The namespace URI the element is in, or nil when it is in no namespace.
    public var namespace: String?
    /// All character data directly inside this element (CDATA included), concatenated in
    /// document order, with entities decoded and nothing trimmed.
    public var text: String
    /// The child elements, in document order.
    public var children: [XMLTree]

    /// Creates a node.
    public init(name: String, namespace: String? = nil, text: String = "", children: [XMLTree] = []) {
        self.name = name
        self.namespace = namespace
        self.text = text
        self.children = children
    }

    /// The first child element called `name`, if any.
    public func child(_ name: String) -> XMLTree? {
        children.first { $0.name == name }
    }

    /// Every child element called `name`, in document order.
    public func children(_ name: String) -> [XMLTree] {
        children.filter { $0.name == name }
    }
}

// MARK: - Writing

extension XMLTree {
    /// The element as a document: a leaf's text, an inner element's children (S3
    /// documents have no mixed content), each namespace written where it changes.
    public func document() -> [UInt8] {
        var writer = XMLWriter()
        write(to: &writer, parentNamespace: nil)
        return writer.bytes
    }

    private func write(to writer: inout XMLWriter, parentNamespace: String?) {
        writer.open(name, namespace: namespace == parentNamespace ? nil : namespace)
        if children.isEmpty {
            writer.text(text)
        } else {
            for child in children { child.write(to: &writer, parentNamespace: namespace) }
        }
        writer.close()
    }
}

// MARK: - Parsing

extension XMLTree {
    /// Elements nested deeper than this are refused; S3 documents nest three or four deep.
    public static let maximumDepth = 32
    /// Documents with more elements than this are refused (a 1000-key `Delete` has ~3000).
    public static let maximumNodeCount = 100_000

    /// Parses a UTF-8 request body and returns its root element.
    ///
    /// Throws ``S3Error/malformedXML`` when the body is empty, not well-formed XML 1.0 in
    /// UTF-8, uses an unbound namespace prefix, is nested deeper than ``maximumDepth``, has
    /// more than ``maximumNodeCount`` elements, or has a document type declaration. DTDs
    /// are refused outright, so only XML's five predefined entities and character
    /// references are ever expanded and nothing is ever fetched.
    public static func parse(_ bytes: [UInt8]) throws -> XMLTree {
        var reader = XMLReader(bytes)
        guard let root = reader.document() else { throw S3Error.malformedXML }
        return root
    }
}

/// The parser behind ``XMLTree/parse(_:)``: XML 1.0 with namespaces, over bytes, for the
/// small documents S3 requests carry. It is our own (not libxml2 through Foundation's
/// `XMLParser`) so the self-contained binary needs no libxml2, and so what it accepts is
/// written here: a BOM, an XML declaration first, comments, processing instructions and
/// white space around one root element; elements with attributes (`xmlns` ones bind
/// prefixes; others are checked and dropped); character data with the predefined
/// entities and character references; CDATA sections. Line ends are normalised to LF
/// as XML requires (a `&#13;` reference stays a CR). Each failure returns nil.
struct XMLReader {
    private let bytes: [UInt8]
    private var index = 0
    private var nodeCount = 0

    /// An open element: its qualified name (to match the end tag), the node being built,
    /// its text so far as bytes, and the prefixes it binds (nil: none).
    private struct Open {
        var qualifiedName: ArraySlice<UInt8>
        var node: XMLTree
        var text: [UInt8] = []
        var bindings: [String: String]?
    }
    private var open: [Open] = []

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func document() -> XMLTree? {
        // UTF-8 only (a UTF-16 body fails here), and only XML's characters: no C0 controls
        // but tab, LF and CR.
        guard !bytes.isEmpty, String(validating: bytes, as: UTF8.self) != nil,
              !bytes.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) else { return nil }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        if hasPrefix("<?xml"), index + 5 < bytes.count, Self.isSpace(bytes[index + 5]) {
            guard skip(past: "?>") else { return nil }
        }
        guard miscellany(), index < bytes.count, let root = element(), miscellany(), index == bytes.count else { return nil }
        return root
    }

    // MARK: Structure

    /// White space, comments and processing instructions (before and after the root).
    private mutating func miscellany() -> Bool {
        while index < bytes.count {
            if Self.isSpace(bytes[index]) {
                index += 1
            } else if hasPrefix("<!--") {
                guard comment() else { return false }
            } else if hasPrefix("<?") {
                guard processingInstruction() else { return false }
            } else {
                // `<!DOCTYPE` (no DTDs) and anything else but the root element.
                return bytes[index] == UInt8(ascii: "<") && !hasPrefix("<!")
            }
        }
        return true
    }

    /// The root element and everything in it, iteratively (depth is bounded anyway).
    private mutating func element() -> XMLTree? {
        guard startTag() else { return nil }
        if open.isEmpty { return finished }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "<") {
                if hasPrefix("</") {
                    guard endTag() else { return nil }
                    if open.isEmpty { return finished }
                } else if hasPrefix("<!--") {
                    guard comment() else { return nil }
                } else if hasPrefix("<![CDATA[") {
                    index += 9
                    let start = index
                    guard skip(past: "]]>") else { return nil }
                    appendText(bytes[start..<(index - 3)])
                } else if hasPrefix("<?") {
                    guard processingInstruction() else { return nil }
                } else if hasPrefix("<!") {
                    return nil // a DOCTYPE inside content, or junk
                } else {
                    guard startTag() else { return nil }
                    if open.isEmpty { return finished }
                }
            } else if byte == UInt8(ascii: "&") {
                guard let decoded = reference() else { return nil }
                open[open.count - 1].text += decoded
            } else {
                let start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: "<"), bytes[index] != UInt8(ascii: "&") { index += 1 }
                let run = bytes[start..<index]
                // `]]>` may not appear in character data.
                guard !Self.contains(run, "]]>".utf8) else { return nil }
                appendText(run)
            }
        }
        return nil // the document ended inside an element
    }

    /// Set by the end tag that closes the root.
    private var finished: XMLTree?

    /// `<name attributes>` or `<name attributes/>`; pushes the element (an empty one is
    /// closed at once).
    private mutating func startTag() -> Bool {
        index += 1
        guard let qualifiedName = name() else { return false }
        nodeCount += 1
        guard open.count < XMLTree.maximumDepth, nodeCount <= XMLTree.maximumNodeCount else { return false }
        var attributes: [(name: ArraySlice<UInt8>, value: [UInt8])] = []
        while true {
            let spaced = skipSpace()
            guard index < bytes.count else { return false }
            if bytes[index] == UInt8(ascii: ">") || hasPrefix("/>") { break }
            guard spaced, let attributeName = name() else { return false }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { return false }
            index += 1
            skipSpace()
            guard let value = attributeValue(),
                  !attributes.contains(where: { $0.name == attributeName }) else { return false }
            attributes.append((attributeName, value))
        }
        var bindings: [String: String]?
        for attribute in attributes {
            let text = String(decoding: attribute.name, as: UTF8.self)
            if text == "xmlns" {
                bindings = bindings ?? [:]
                bindings![""] = String(decoding: attribute.value, as: UTF8.self)
            } else if text.hasPrefix("xmlns:") {
                // A prefix cannot be bound to nothing (Namespaces in XML 1.0).
                guard !attribute.value.isEmpty else { return false }
                bindings = bindings ?? [:]
                bindings![String(text.dropFirst(6))] = String(decoding: attribute.value, as: UTF8.self)
            }
        }
        let (prefix, localName) = Self.split(qualifiedName)
        var element = Open(qualifiedName: qualifiedName, node: XMLTree(name: localName), bindings: bindings)
        open.append(element)
        // Every prefix in use must be bound, here or by an enclosing element.
        for attribute in attributes {
            let (attributePrefix, _) = Self.split(attribute.name)
            if let attributePrefix, attributePrefix != "xmlns", attributePrefix != "xml", namespace(of: attributePrefix) == nil {
                return false
            }
        }
        if let prefix {
            guard prefix != "xmlns", let uri = namespace(of: prefix) else { return false }
            open[open.count - 1].node.namespace = uri
        } else {
            let uri = namespace(of: "")
            open[open.count - 1].node.namespace = (uri?.isEmpty ?? true) ? nil : uri
        }
        if hasPrefix("/>") {
            index += 2
            element = open.removeLast()
            close(element)
        } else {
            index += 1
        }
        return true
    }

    /// `</name>`, which must name the innermost open element.
    private mutating func endTag() -> Bool {
        index += 2
        guard let qualifiedName = name(), let element = open.last, element.qualifiedName == qualifiedName else { return false }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ">") else { return false }
        index += 1
        close(open.removeLast())
        return true
    }

    private mutating func close(_ element: Open) {
        var node = element.node
        node.text = String(decoding: element.text, as: UTF8.self)
        if open.isEmpty {
            finished = node
        } else {
            open[open.count - 1].node.children.append(node)
        }
    }

    /// The URI bound to `prefix` ("" for the default namespace) by the innermost binding.
    private func namespace(of prefix: String) -> String? {
        if prefix == "xml" { return "http://www.w3.org/XML/1998/namespace" }
        for element in open.reversed() {
            if let uri = element.bindings?[prefix] { return uri }
        }
        return nil
    }

    // MARK: Pieces

    /// A qualified name: `local` or `prefix:local`, each part an XML name without colons.
    private mutating func name() -> ArraySlice<UInt8>? {
        let start = index
        while index < bytes.count, Self.isNameByte(bytes[index]) { index += 1 }
        let name = bytes[start..<index]
        let parts = name.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard !name.isEmpty, parts.count <= 2,
              parts.allSatisfy({ part in part.first.map(Self.isNameStartByte) ?? false }) else { return nil }
        return name
    }

    /// A quoted attribute value with references decoded (white space is not normalised:
    /// no value but `xmlns` ones is kept).
    private mutating func attributeValue() -> [UInt8]? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "'") else { return nil }
        let quote = bytes[index]
        index += 1
        var value: [UInt8] = []
        while index < bytes.count, bytes[index] != quote {
            switch bytes[index] {
            case UInt8(ascii: "<"): return nil
            case UInt8(ascii: "&"):
                guard let decoded = reference() else { return nil }
                value += decoded
            default:
                value.append(bytes[index])
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        index += 1
        return value
    }

    /// `&lt;` `&gt;` `&amp;` `&apos;` `&quot;` or a character reference (`&#10;`, `&#xA;`)
    /// of a character XML allows, as UTF-8. Any other entity is undeclared: nil.
    private mutating func reference() -> [UInt8]? {
        guard let semicolon = bytes[index...].prefix(16).firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let body = String(decoding: bytes[(index + 1)..<semicolon], as: UTF8.self)
        index = semicolon + 1
        switch body {
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "amp": return [UInt8(ascii: "&")]
        case "apos": return [UInt8(ascii: "'")]
        case "quot": return [UInt8(ascii: "\"")]
        default:
            let value: UInt32?
            if body.hasPrefix("#x") {
                value = body.count > 2 && body.dropFirst(2).allSatisfy(\.isHexDigit) ? UInt32(body.dropFirst(2), radix: 16) : nil
            } else if body.hasPrefix("#") {
                value = body.count > 1 && body.dropFirst().allSatisfy(\.isASCII) ? UInt32(body.dropFirst()) : nil
            } else {
                value = nil
            }
            guard let value, Self.isXMLCharacter(value), let scalar = Unicode.Scalar(value) else { return nil }
            return Array(String(Character(scalar)).utf8)
        }
    }

    /// `<!-- … -->`; `--` may not appear inside.
    private mutating func comment() -> Bool {
        index += 4
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "-"), bytes[index + 1] == UInt8(ascii: "-") {
                guard index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: ">") else { return false }
                index += 3
                return true
            }
            index += 1
        }
        return false
    }

    /// `<?target …?>`; the target `xml` is reserved for the declaration at the very start.
    private mutating func processingInstruction() -> Bool {
        index += 2
        guard let target = name(), String(decoding: target, as: UTF8.self).lowercased() != "xml" else { return false }
        return skip(past: "?>")
    }

    /// Character data of the innermost element, line ends normalised (CRLF and CR → LF).
    private mutating func appendText(_ run: ArraySlice<UInt8>) {
        guard run.contains(0x0D) else {
            open[open.count - 1].text += run
            return
        }
        var normalised: [UInt8] = []
        normalised.reserveCapacity(run.count)
        var previousWasCR = false
        for byte in run {
            if byte == 0x0A && previousWasCR { previousWasCR = false; continue }
            previousWasCR = byte == 0x0D
            normalised.append(previousWasCR ? 0x0A : byte)
        }
        open[open.count - 1].text += normalised
    }

    private func hasPrefix(_ prefix: String) -> Bool {
        bytes[index...].starts(with: prefix.utf8)
    }

    /// Moves past the next `terminator`; false if there is none.
    private mutating func skip(past terminator: String) -> Bool {
        let end = Array(terminator.utf8)
        while index < bytes.count {
            if bytes[index...].starts(with: end) {
                index += end.count
                return true
            }
            index += 1
        }
        return false
    }

    /// Skips white space; returns whether there was any.
    @discardableResult
    private mutating func skipSpace() -> Bool {
        let start = index
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
        return index > start
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    /// Name characters: ASCII letters, digits, `_ - . :`, and any non-ASCII byte (the
    /// document is valid UTF-8, and S3 names are ASCII; non-ASCII names are accepted whole).
    private static func isNameByte(_ byte: UInt8) -> Bool {
        isNameStartByte(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    private static func isNameStartByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || byte == UInt8(ascii: "_") || byte >= 0x80
    }

    /// XML 1.0's `Char` production.
    private static func isXMLCharacter(_ value: UInt32) -> Bool {
        value == 0x9 || value == 0xA || value == 0xD || (0x20...0xD7FF).contains(value)
            || (0xE000...0xFFFD).contains(value) || (0x10000...0x10FFFF).contains(value)
    }

    private static func split(_ qualifiedName: ArraySlice<UInt8>) -> (prefix: String?, local: String) {
        guard let colon = qualifiedName.firstIndex(of: UInt8(ascii: ":")) else {
            return (nil, String(decoding: qualifiedName, as: UTF8.self))
        }
        return (String(decoding: qualifiedName[..<colon], as: UTF8.self),
                String(decoding: qualifiedName[(colon + 1)...], as: UTF8.self))
    }

    private static func contains(_ run: ArraySlice<UInt8>, _ needle: String.UTF8View) -> Bool {
        let needle = Array(needle)
        guard run.count >= needle.count else { return false }
        var at = run.startIndex
        while at + needle.count <= run.endIndex {
            if run[at..<(at + needle.count)].elementsEqual(needle) { return true }
            at += 1
        }
        return false
    }
}
