import Foundation
import StrataTestSupport
import XCTest
@testable import S3Server

/// `--tls-self-signed` keeps its CA in the data directory, so that the CA file a client
/// was given (AWS_CA_BUNDLE) still verifies the server after a restart.
final class TLSSetupTests: XCTestCase {
    func testTheCAIsKeptAcrossStartsWithItsKeyReadableOnlyByTheOwner() throws {
        let directory = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try TLSSetup.selfSigned(directory: directory)
        XCTAssertTrue(first.caIsNew)
        let ca = try String(contentsOfFile: first.caPath, encoding: .utf8)
        let key = try String(contentsOfFile: first.caKeyPath, encoding: .utf8)
        XCTAssertTrue(ca.hasPrefix("-----BEGIN CERTIFICATE-----"), ca)
        XCTAssertTrue(key.contains("PRIVATE KEY"))
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: first.caKeyPath)[.posixPermissions] as? NSNumber)
        XCTAssertEqual(mode.intValue & 0o777, 0o600)

        let second = try TLSSetup.selfSigned(directory: directory)
        XCTAssertFalse(second.caIsNew)
        XCTAssertEqual(try String(contentsOfFile: second.caPath, encoding: .utf8), ca)
        XCTAssertEqual(try String(contentsOfFile: second.caKeyPath, encoding: .utf8), key)
        // Nothing but the two files: no temporary names left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
                       [TLSSetup.caKeyFileName, TLSSetup.caFileName].sorted())
    }

    func testACrashBetweenKeyAndCertificateIsRepairedFromTheKeptKey() throws {
        let directory = makeTestDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try TLSSetup.selfSigned(directory: directory)
        let key = try String(contentsOfFile: first.caKeyPath, encoding: .utf8)
        try FileManager.default.removeItem(atPath: first.caPath)
        let again = try TLSSetup.selfSigned(directory: directory)
        XCTAssertTrue(again.caIsNew)
        XCTAssertEqual(try String(contentsOfFile: again.caKeyPath, encoding: .utf8), key, "the key is kept")
        XCTAssertTrue(FileManager.default.fileExists(atPath: again.caPath))
    }

    func testAMissingCertificateFileIsNamedPlainly() {
        XCTAssertThrowsError(try TLSSetup.fromFiles(certificate: "/nonexistent/cert.pem", key: "/nonexistent/key.pem")) {
            XCTAssertEqual("\($0)", "--tls-cert /nonexistent/cert.pem: no such file")
        }
    }
}
