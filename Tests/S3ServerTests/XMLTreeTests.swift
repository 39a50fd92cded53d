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
}
