import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// TLS for `strata serve`: a certificate and key from files (`--tls-cert`, `--tls-key`),
/// or a certificate made at start for localhost, 127.0.0.1 and ::1 (`--tls-self-signed`),
/// signed by a CA kept in the data directory, whose certificate clients trust through
/// `AWS_CA_BUNDLE`.
public enum TLSSetup {
    /// A server TLS configuration from PEM files.
    public static func fromFiles(certificate: String, key: String) throws -> TLSConfiguration {
        for (option, path) in [("--tls-cert", certificate), ("--tls-key", key)] where !FileManager.default.fileExists(atPath: path) {
            throw TLSFileError("\(option) \(path): no such file")
        }
        let chain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw TLSFileError("--tls-cert \(certificate): cannot read a PEM certificate from it (\(error))")
        }
        do {
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw TLSFileError("--tls-key \(key): cannot read a PEM private key from it (\(error))")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                        privateKey: .privateKey(privateKey))
    }

    /// What `--tls-self-signed` set up.
    public struct SelfSigned {
        /// The server configuration, with a certificate issued at this start.
        public var configuration: TLSConfiguration
        /// The CA certificate (PEM), for `AWS_CA_BUNDLE`.
        public var caPath: String
        /// The CA's private key (PEM, mode 0600).
        public var caKeyPath: String
        /// Whether the CA was made at this start (else it was kept from an earlier one).
        public var caIsNew: Bool
    }

    /// The CA certificate's file name in the data directory.
    public static let caFileName = "tls-ca.pem"
    /// The CA key's file name in the data directory.
    public static let caKeyFileName = "tls-ca-key.pem"

    /// The CA kept in `directory` (made there at the first start) and a server certificate
    /// for localhost, 127.0.0.1 and ::1 issued by it at this start.
    ///
    /// The CA is kept, key and all, so that a client's `AWS_CA_BUNDLE` stays valid across
    /// restarts; the server certificate is re-issued at every start, valid for 30 days
    /// from an hour ago (clock skew). The CA is valid for ten years; one that is no longer
    /// valid, or whose certificate does not match its key, is replaced by a new one.
    ///
    /// The key is written before the certificate, each whole or not at all
    /// (``DurableFile``): a crash between the two leaves a key without a certificate, and
    /// the next start makes the certificate from that key.
    public static func selfSigned(directory: String) throws -> SelfSigned {
        let caPath = directory + "/" + caFileName, keyPath = directory + "/" + caKeyFileName
        let now = Date()
        var caIsNew = false
        let caKey: P256.Signing.PrivateKey
        if let pem = try? String(contentsOfFile: keyPath, encoding: .utf8) {
            do {
                caKey = try P256.Signing.PrivateKey(pemRepresentation: pem)
            } catch {
                throw TLSFileError("\(keyPath): not a P-256 private key in PEM (remove it and \(caFileName) to make a new CA)")
            }
        } else {
            let made = P256.Signing.PrivateKey()
            if try DurableFile.write(Array(made.pemRepresentation.utf8), to: keyPath, mode: 0o600, replace: false) {
                caKey = made
            } else {
                // Another process put one there first: use that.
                caKey = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: keyPath, encoding: .utf8))
            }
            caIsNew = true
        }
        var ca: Certificate?
        if !caIsNew, let pem = try? String(contentsOfFile: caPath, encoding: .utf8),
           let kept = try? Certificate(pemEncoded: pem),
           kept.publicKey == Certificate.PublicKey(caKey.publicKey),
           kept.notValidBefore <= now, now.addingTimeInterval(86_400) < kept.notValidAfter {
            ca = kept
        }
        if ca == nil {
            // Named after its key, so that a certificate made again from the kept key (or
            // by two starts racing) has the same name, and certificates issued under one
            // verify with the other.
            let keyID = SubjectKeyIdentifier(hash: .init(caKey.publicKey)).keyIdentifier.prefix(4)
            let caName = try DistinguishedName {
                OrganizationName("Strata")
                CommonName("Strata local CA \(Hex.encode(keyID))")
            }
            let made = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
                notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86_400),
                issuer: caName, subject: caName,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: .init(caKey.publicKey))
                },
                issuerPrivateKey: .init(caKey))
            try DurableFile.write(Array((try made.serializeAsPEM().pemString + "\n").utf8), to: caPath, mode: 0o644, replace: true)
            ca = made
            caIsNew = true
        }
        let configuration = try serverConfiguration(issuedBy: ca!, key: caKey, now: now)
        return SelfSigned(configuration: configuration, caPath: caPath, caKeyPath: keyPath, caIsNew: caIsNew)
    }

    /// A server certificate for localhost, 127.0.0.1 and ::1 signed by `ca`.
    private static func serverConfiguration(issuedBy ca: Certificate, key caKey: P256.Signing.PrivateKey,
                                            now: Date) throws -> TLSConfiguration {
        let serverKey = P256.Signing.PrivateKey()
        let serverName = try DistinguishedName {
            OrganizationName("Strata")
            CommonName("localhost")
        }
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(30 * 86_400),
            issuer: ca.subject, subject: serverName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"),
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
                ])
                AuthorityKeyIdentifier(keyIdentifier: try ca.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
        let serverPEM = try server.serializeAsPEM().pemString
        let chain = [try NIOSSLCertificate(bytes: Array(serverPEM.utf8), format: .pem)]
        let key = try NIOSSLPrivateKey(bytes: Array(serverKey.pemRepresentation.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                        privateKey: .privateKey(key))
    }
}

/// A TLS file that cannot be used, in words an operator can act on.
public struct TLSFileError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
