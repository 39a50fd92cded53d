import XCTest
@testable import S3Server

/// The request-body DOM: well-formed input, namespaces, entities, and everything it must refuse.
final class XMLTreeTests: XCTestCase {
    private func assertMalformed(_ xml: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try XMLTree.parse(bytes(xml)), xml, file: file, line: line) { error in
            XCTAssertEqual((error as? S3Error)?.code, "MalformedXML", file: file, line: line)
        }
    }

    func testParsesTreeInDocumentOrder() throws {
        let root = try XMLTree.parse(bytes(#"<?xml version="1.0" encoding="UTF-8"?><A><B>1</B><C/><B>2</B></A>"#))
        XCTAssertEqual(root.name, "A")
        XCTAssertNil(root.namespace)
        XCTAssertEqual(root.children.map(\.name), ["B", "C", "B"])
        XCTAssertEqual(root.children("B").map(\.text), ["1", "2"])
        XCTAssertEqual(root.child("B")?.text, "1")
        XCTAssertEqual(root.child("C")?.text, "")
        XCTAssertNil(root.child("D"))
    }

    func testNamespaceIsRecordedAndPrefixStripped() throws {
        let plain = try XMLTree.parse(bytes(#"<A xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><B>x</B></A>"#))
        XCTAssertEqual(plain.namespace, "http://s3.amazonaws.com/doc/2006-03-01/")
        XCTAssertEqual(plain.child("B")?.namespace, "http://s3.amazonaws.com/doc/2006-03-01/")
        let prefixed = try XMLTree.parse(bytes(#"<s3:A xmlns:s3="urn:s3"><s3:B>x</s3:B></s3:A>"#))
        XCTAssertEqual(prefixed.name, "A")
        XCTAssertEqual(prefixed.child("B")?.text, "x")
    }

    func testTextIsUntrimmedWithEntitiesAndCDATADecoded() throws {
        let root = try XMLTree.parse(bytes("<K>  a&amp;b&lt;&gt;&quot;&apos;&#10;&#13;&#x9;<![CDATA[<raw>&amp;]]> fünf 🎉  </K>"))
        XCTAssertEqual(root.text, "  a&b<>\"'\n\r\t<raw>&amp; fünf 🎉  ")
    }

    func testLeadingBOMCommentsAndProcessingInstructionsAreAccepted() throws {
        let root = try XMLTree.parse([0xEF, 0xBB, 0xBF] + bytes("<?xml version=\"1.0\"?>\n<!-- c --><?pi x?>\n<A>x</A>\n"))
        XCTAssertEqual(root.text, "x")
    }

    func testMalformedDocumentsAreRefused() {
        assertMalformed("")
        assertMalformed("   \n")
        assertMalformed("<A><B></A>")
        assertMalformed("<A>")
        assertMalformed("not xml at all")
        assertMalformed("<A>x</A><B/>")
        assertMalformed("<A>x</A>trailing")
        assertMalformed("<A>&undefined;</A>")
        assertMalformed("<x:A>unbound prefix</x:A>")
        assertMalformed("<?xml version=\"1.0\"?>")
        assertMalformed("<!-- unterminated comment <A/>")
    }

    func testDoctypeIsRefusedSoNoEntityIsExpanded() {
        assertMalformed(#"<!DOCTYPE A [<!ENTITY e "boom">]><A>&e;</A>"#)
        assertMalformed(#"<?xml version="1.0"?><!DOCTYPE A SYSTEM "file:///etc/passwd"><A>x</A>"#)
        assertMalformed(#"<!-- c --><!DOCTYPE A><A>x</A>"#)
        assertMalformed(#"<A><!DOCTYPE A><B/></A>"#)
    }

    func testDoctypeTextInsideCDATAIsJustText() throws {
        XCTAssertEqual(try XMLTree.parse(bytes("<A><![CDATA[<!DOCTYPE x>]]></A>")).text, "<!DOCTYPE x>")
    }

    func testUTF16BodyIsRefused() {
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in "<A>x</A>".utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        XCTAssertThrowsError(try XMLTree.parse(utf16))
    }

    func testDepthLimit() throws {
        func nested(_ depth: Int) -> String {
            String(repeating: "<a>", count: depth) + String(repeating: "</a>", count: depth)
        }
        XCTAssertNoThrow(try XMLTree.parse(bytes(nested(XMLTree.maximumDepth))))
        assertMalformed(nested(XMLTree.maximumDepth + 1))
    }

    func testNodeCountLimit() throws {
        func flat(_ children: Int) -> String {
            "<r>" + String(repeating: "<a/>", count: children) + "</r>"
        }
        XCTAssertEqual(try XMLTree.parse(bytes(flat(XMLTree.maximumNodeCount - 1))).children.count,
                       XMLTree.maximumNodeCount - 1)
        assertMalformed(flat(XMLTree.maximumNodeCount))
    }

    // Our own parser (no libxml2): the XML 1.0 and Namespaces rules it enforces.

    func testAttributesAreCheckedAndDroppedPrefixesBound() throws {
        // An ACL grantee as the SDKs send it.
        let grantee = try XMLTree.parse(bytes(#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type='CanonicalUser'><ID>abc</ID></Grantee>"#))
        XCTAssertEqual(grantee.child("ID")?.text, "abc")
        assertMalformed(#"<A b:c="1"/>"#)                   // unbound attribute prefix
        assertMalformed(#"<A x="1" x="2"/>"#)               // duplicate attribute
        assertMalformed(#"<A x="1"y="2"/>"#)                // no space between attributes
        assertMalformed(#"<A x="1/>"#)                      // unterminated value
        assertMalformed(#"<A x="<"/>"#)                     // < in a value
        assertMalformed(#"<A x=1/>"#)                       // unquoted
        assertMalformed(#"<p:A xmlns:p=""/>"#)              // a prefix bound to nothing
    }

    func testDefaultNamespaceScopesAndUndeclaration() throws {
        let root = try XMLTree.parse(bytes(#"<A xmlns="urn:a"><B xmlns="urn:b"><C/></B><D xmlns=""/><p:E xmlns:p="urn:p"/></A >"#))
        XCTAssertEqual(root.namespace, "urn:a")
        XCTAssertEqual(root.child("B")?.namespace, "urn:b")
        XCTAssertEqual(root.child("B")?.child("C")?.namespace, "urn:b")
        XCTAssertNil(root.child("D")?.namespace)
        XCTAssertEqual(root.child("E")?.namespace, "urn:p")
    }

    func testLineEndsAreNormalisedButCharacterReferencesKept() throws {
        XCTAssertEqual(try XMLTree.parse(bytes("<K>a\r\nb\rc&#13;<![CDATA[d\r\ne]]></K>")).text, "a\nb\nc\rd\ne")
    }

    func testCharacterLevelRulesOfXML() {
        assertMalformed("<A>a]]>b</A>")                     // ]]> in character data
        assertMalformed("<A><!-- a -- b --></A>")           // -- inside a comment
        assertMalformed("<A>\u{01}</A>")                    // a C0 control character
        assertMalformed("<A>&#0;</A>")                      // a reference to a non-character
        assertMalformed("<A>&#xD800;</A>")                  // a surrogate
        assertMalformed("<A>&#x;</A>")
        assertMalformed("<A>&amp</A>")                      // unterminated reference
        assertMalformed("<A/><?xml version=\"1.0\"?>")      // the declaration only first
        assertMalformed(" <?xml version=\"1.0\"?><A/>")
        assertMalformed("<1A/>")                            // a name cannot start with a digit
        assertMalformed("<a:b:c xmlns:a=\"urn:a\"/>")        // two colons
        XCTAssertThrowsError(try XMLTree.parse([0x3C, 0x41, 0x3E, 0xFF, 0x3C, 0x2F, 0x41, 0x3E])) // not UTF-8
    }

    func testSelfClosingRootAndTrailingMiscellany() throws {
        XCTAssertEqual(try XMLTree.parse(bytes("<A/>\n<!-- done -->\n<?pi?>\n")).name, "A")
        XCTAssertEqual(try XMLTree.parse(bytes("<A><?pi data?><!-- c --><B>x</B></A>")).child("B")?.text, "x")
    }
}
