/// The `Credential` of a SigV4 signature: `AKID/20130524/us-east-1/s3/aws4_request`.
public struct CredentialScope: Sendable, Hashable {
    /// The access key id.
    public var accessKeyId: String
    /// The scope date, `yyyyMMdd`.
    public var date: String
    /// The region the client signed for.
    public var region: String
    /// The service the client signed for (`s3`).
    public var service: String

    /// Creates a scope from its parts.
    public init(accessKeyId: String, date: String, region: String, service: String) {
        self.accessKeyId = accessKeyId
        self.date = date
        self.region = region
        self.service = service
    }

    /// `date/region/service/aws4_request`, the scope line of a string to sign.
    public var scope: String { "\(date)/\(region)/\(service)/aws4_request" }

    /// Parses `AKID/date/region/service/aws4_request`; nil if it does not have that shape.
    /// (An access key id may itself contain `/`: the scope is the last four parts.)
    public init?(credential: String) {
        // Bytewise: splitting the String by Characters showed in the profile of a 4 KiB GET.
        let parts = credential.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[parts.count - 1].elementsEqual("aws4_request".utf8) else { return nil }
        let date = parts[parts.count - 4], region = parts[parts.count - 3], service = parts[parts.count - 2]
        let keyEnd = parts[parts.count - 5].endIndex
        guard keyEnd > credential.utf8.startIndex, date.count == 8, date.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              !region.isEmpty, !service.isEmpty else { return nil }
        self.init(accessKeyId: String(Substring(credential.utf8[..<keyEnd])), date: String(Substring(date)),
                  region: String(Substring(region)), service: String(Substring(service)))
    }
}
