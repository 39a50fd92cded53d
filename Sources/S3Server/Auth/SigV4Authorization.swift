/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
/// header.
public struct SigV4Authorization: Sendable, Hashable {
    /// The credential scope.
    public var credential: CredentialScope
    /// The signed header names, lowercase, in the order given (which must be sorted).
    public var signedHeaders: [String]
    /// The 64-hex-digit signature.
    public var signature: String

    /// Parses the header value. Throws `AuthorizationHeaderMalformed` if any part is
    /// missing or ill-formed.
    public init(headerValue: String) throws {
        let prefix = SigV4.algorithm
        guard headerValue.hasPrefix(prefix + " ") else {
            throw S3Error.authorizationHeaderMalformed("the authorization header requires the \(prefix) algorithm")
        }
        var credential: String?, signed: String?, signature: String?
        for component in headerValue.dropFirst(prefix.count + 1).split(separator: ",") {
            let trimmed = component.trimmingSpaces()
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw S3Error.authorizationHeaderMalformed("the authorization component \"\(trimmed)\" is malformed.")
            }
            let key = trimmed[..<eq], value = String(trimmed[trimmed.index(after: eq)...])
            switch key {
            case "Credential": credential = value
            case "SignedHeaders": signed = value
            case "Signature": signature = value
            default:
                throw S3Error.authorizationHeaderMalformed("the authorization component \"\(trimmed)\" is malformed.")
            }
        }
        guard let credential, let signed, let signature else {
            throw S3Error.authorizationHeaderMalformed("the authorization header requires Credential, SignedHeaders and Signature.")
        }
        guard let scope = CredentialScope(credential: credential) else {
            throw S3Error.authorizationHeaderMalformed("the Credential \"\(credential)\" is malformed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        }
        guard Hex.isHex(signature, length: 64) else {
            throw S3Error.authorizationHeaderMalformed("the Signature is not 64 hexadecimal characters.")
        }
        let headers = signed.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard !headers.isEmpty, headers.allSatisfy({ !$0.isEmpty && $0 == $0.lowercased() }) else {
            throw S3Error.authorizationHeaderMalformed("the SignedHeaders \"\(signed)\" are malformed.")
        }
        self.credential = scope
        self.signedHeaders = headers
        self.signature = signature
    }
}

extension StringProtocol {
    /// Drops leading and trailing spaces and tabs.
    func trimmingSpaces() -> SubSequence {
        var start = startIndex, end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }
}
