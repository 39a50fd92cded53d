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
    public init?(credential: String) {
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[parts.count - 1] == "aws4_request" else { return nil }
        let key = parts[0..<(parts.count - 4)].joined(separator: "/")
        let date = String(parts[parts.count - 4])
        guard !key.isEmpty, date.utf8.count == 8, date.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              !parts[parts.count - 3].isEmpty, !parts[parts.count - 2].isEmpty else { return nil }
        self.init(accessKeyId: key, date: date, region: String(parts[parts.count - 3]),
                  service: String(parts[parts.count - 2]))
    }
}
