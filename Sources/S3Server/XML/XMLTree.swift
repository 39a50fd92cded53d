import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

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
    /// Throws ``S3Error/malformedXML`` when the body is empty, not well-formed, nested deeper
    /// than ``maximumDepth``, larger than ``maximumNodeCount`` elements, or has a document
    /// type declaration. DTDs are refused outright, so no entity of ours is ever expanded and
    /// no external entity is ever fetched.
    public static func parse(_ bytes: [UInt8]) throws -> XMLTree {
        guard !bytes.isEmpty, try prologIsFreeOfDoctype(bytes) else { throw S3Error.malformedXML }
        let parser = XMLParser(data: Data(bytes))
        let builder = TreeBuilder()
        parser.delegate = builder
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        // `parse()` can return true after reporting an error (e.g. content after the root
        // element), so the delegate's record and `parserError` are checked too.
        guard parser.parse(), parser.parserError == nil, !builder.failed, let root = builder.root else {
            throw S3Error.malformedXML
        }
        return root
    }

    /// Walks the prolog (BOM, XML declaration, comments, processing instructions, white
    /// space) up to the root element. Returns true when the root element was reached;
    /// throws on a `<!DOCTYPE` or anything else that is not a UTF-8 prolog (UTF-16 bodies
    /// included, which would otherwise slip a DOCTYPE past this byte scan).
    private static func prologIsFreeOfDoctype(_ bytes: [UInt8]) throws -> Bool {
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        func hasPrefix(_ prefix: String) -> Bool {
            bytes[index...].starts(with: prefix.utf8)
        }
        func skip(past terminator: String) throws {
            let end = Array(terminator.utf8)
            while index < bytes.count {
                if bytes[index...].starts(with: end) {
                    index += end.count
                    return
                }
                index += 1
            }
            throw S3Error.malformedXML
        }
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            case UInt8(ascii: "<"):
                if hasPrefix("<?") {
                    try skip(past: "?>")
                } else if hasPrefix("<!--") {
                    try skip(past: "-->")
                } else if hasPrefix("<!") {
                    throw S3Error.malformedXML // <!DOCTYPE (or junk): no DTDs, no entities
                } else {
                    return true
                }
            default:
                throw S3Error.malformedXML
            }
        }
        return false
    }
}

/// Builds the ``XMLTree`` tree from parser events, enforcing the depth and size limits.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    /// Open elements, innermost last.
    private var stack: [XMLTree] = []
    private var nodeCount = 0
    private(set) var root: XMLTree?
    private(set) var failed = false

    private func fail(_ parser: XMLParser) {
        failed = true
        parser.abortParsing()
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        guard !failed else { return }
        nodeCount += 1
        guard stack.count < XMLTree.maximumDepth, nodeCount <= XMLTree.maximumNodeCount else {
            return fail(parser)
        }
        // With namespace processing on, `elementName` is already the local name; strip a
        // prefix anyway in case a platform hands back the qualified name.
        let localName = elementName.split(separator: ":").last.map(String.init) ?? elementName
        let namespace = namespaceURI.flatMap { $0.isEmpty ? nil : $0 }
        stack.append(XMLTree(name: localName, namespace: namespace))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName: String?) {
        guard !failed, let node = stack.popLast() else { return fail(parser) }
        if stack.isEmpty {
            root = node
        } else {
            stack[stack.count - 1].children.append(node)
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !failed, !stack.isEmpty else { return }
        stack[stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !failed, !stack.isEmpty else { return }
        stack[stack.count - 1].text += String(decoding: CDATABlock, as: UTF8.self)
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        failed = true
    }

    func parser(_ parser: XMLParser, validationErrorOccurred validationError: Error) {
        failed = true
    }
}
