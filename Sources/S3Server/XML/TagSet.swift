/// Object and bucket tags as S3 takes them: the `<Tagging><TagSet><Tag>…` document of
/// Put{Object,Bucket}Tagging, and the URL-encoded query form of the `x-amz-tagging`
/// header (PutObject, CreateMultipartUpload, CopyObject with REPLACE).
///
/// S3's rules (docs "Categorizing your storage using tags", "Tag restrictions", and S3's
/// answers as other S3 implementations' test suites record them):
/// - at most 10 tags on an object (400 BadRequest "Object tags cannot be greater than
///   10"), 50 on a bucket (400 BadRequest "Bucket tag count cannot be greater than 50");
/// - a key of 1 to 128 Unicode characters, a value of at most 256, made of letters,
///   numbers, separators (space) and `_ . : / = + - @` (400 InvalidTag "The TagKey / The
///   TagValue you have provided is invalid");
/// - keys unique within the set (400 InvalidTag "Cannot provide multiple Tags with the
///   same key");
/// - keys starting with `aws:` (any case) are reserved (400 InvalidTag "System tags
///   cannot be added/updated by requester");
/// - a document that is not that shape is 400 MalformedXML; an `x-amz-tagging` header
///   that is not UTF-8 form encoding of distinct, non-empty keys is 400 InvalidArgument.
struct TagSet: Sendable, Equatable {
    /// Key → value.
    var tags: [String: String]

    enum Kind {
        case object, bucket

        var maxCount: Int { self == .object ? 10 : 50 }
    }

    static let maxKeyCharacters = 128
    static let maxValueCharacters = 256

    /// Parses and checks a `<Tagging>` document.
    static func parse(_ bytes: [UInt8], kind: Kind) throws -> TagSet {
        let root = try XMLTree.parseDocument(bytes, root: "Tagging")
        guard root.children.count == 1, let set = root.child("TagSet") else { throw S3Error.malformedXML }
        var pairs: [(String, String)] = []
        for tag in set.children {
            guard tag.name == "Tag", let key = tag.child("Key"), let value = tag.child("Value"),
                  tag.children.count == 2 else { throw S3Error.malformedXML }
            pairs.append((key.text, value.text))
        }
        return try TagSet(checking: pairs, kind: kind)
    }

    /// Parses and checks the `x-amz-tagging` header: `k1=v1&k2=v2`, form-encoded.
    static func parseHeader(_ text: String) throws -> TagSet {
        let malformed = S3Error.invalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
            name: "x-amz-tagging", value: text)
        var pairs: [(String, String)] = []
        var seen: Set<String> = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let (rawKey, rawValue) = SigV4.splitPair(pair)
            let keyBytes = SigV4.percentDecode(rawKey, plusAsSpace: true)
            let valueBytes = SigV4.percentDecode(rawValue, plusAsSpace: true)
            guard let key = String(validatingUTF8Bytes: keyBytes), let value = String(validatingUTF8Bytes: valueBytes),
                  !key.isEmpty, seen.insert(key).inserted else { throw malformed }
            pairs.append((key, value))
        }
        return try TagSet(checking: pairs, kind: .object)
    }

    init(tags: [String: String]) {
        self.tags = tags
    }

    init(checking pairs: [(String, String)], kind: Kind) throws {
        guard pairs.count <= kind.maxCount else {
            throw S3Error.badRequest(kind == .object ? "Object tags cannot be greater than 10"
                                                     : "Bucket tag count cannot be greater than 50")
        }
        var tags: [String: String] = [:]
        for (key, value) in pairs {
            guard (1...Self.maxKeyCharacters).contains(key.count), Self.allowed(key) else {
                throw S3Error.invalidTag("The TagKey you have provided is invalid", key: key)
            }
            guard value.count <= Self.maxValueCharacters, Self.allowed(value) else {
                throw S3Error.invalidTag("The TagValue you have provided is invalid", key: key, value: value)
            }
            guard !key.lowercased().hasPrefix("aws:") else {
                throw S3Error.invalidTag("System tags cannot be added/updated by requester", key: key)
            }
            guard tags.updateValue(value, forKey: key) == nil else {
                throw S3Error.invalidTag("Cannot provide multiple Tags with the same key", key: key)
            }
        }
        self.tags = tags
    }

    /// S3's tag characters: Unicode letters (with their marks), numbers and space
    /// separators, and `_ . : / = + - @`.
    static func allowed(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy(allowedScalar)
    }

    private static func allowedScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        case .decimalNumber, .letterNumber, .otherNumber: return true
        case .spaceSeparator, .nonspacingMark, .spacingMark: return true
        default: return extraCharacters.contains(scalar)
        }
    }

    private static let extraCharacters: Set<Unicode.Scalar> = ["_", ".", ":", "/", "=", "+", "-", "@"]

    /// The `<Tagging>` response document (GetObjectTagging, GetBucketTagging), by key.
    func document() -> XMLWriter {
        var xml = XMLWriter()
        xml.open("Tagging", namespace: s3Namespace)
        xml.element("TagSet") { xml in
            for (key, value) in tags.sorted(by: { $0.key < $1.key }) {
                xml.element("Tag") {
                    $0.element("Key", key)
                    $0.element("Value", value)
                }
            }
        }
        xml.close()
        return xml
    }

    /// The stored form of a bucket's tags (`putBucketConfig` document `tagging`).
    func encodedDocument() -> [UInt8] {
        Array(document().output.utf8)
    }
}

extension String {
    /// The text of `bytes` if they are valid UTF-8, else nil.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var scalars = String.UnicodeScalarView()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): scalars.append(scalar)
            case .emptyInput:
                self = String(scalars)
                return
            case .error:
                return nil
            }
        }
    }
}
