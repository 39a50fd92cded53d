#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import ObjectStore

/// The keys behind SSE-S3 and SSE-KMS: the master key, and the local stand-in for AWS
/// KMS, a list of KMS key ids (with aliases) plus the AWS-managed `aws/s3` key.
///
/// Every object gets its own random object key; the entry keeps it only wrapped
/// (``KeyWrap``) under a key derived from the master key and what it is for: `s3` for
/// SSE-S3, the KMS key's ARN for SSE-KMS. So a KMS key id is a name, not key material:
/// the master key is the one secret. Lose it and every SSE-S3 and SSE-KMS object is
/// unreadable for good (README, "Encryption keys").
public struct KeyRing: Sendable {
    public let masterKey: EncryptionKey
    /// KMS key ids of the key list, in file order.
    public let kmsKeyIDs: [String]
    /// `alias/NAME` → key id.
    public let aliases: [String: String]

    /// The alias of the AWS-managed key S3 uses for `aws:kms` without a key id.
    public static let managedAlias = "alias/aws/s3"

    public init(masterKey: EncryptionKey, kmsKeyIDs: [String] = [], aliases: [String: String] = [:]) {
        self.masterKey = masterKey
        self.kmsKeyIDs = kmsKeyIDs
        self.aliases = aliases
    }

    /// A key ring whose master key lives only in memory (ephemeral stores, tests).
    public static func ephemeral() -> KeyRing { KeyRing(masterKey: .random()) }

    // MARK: - Files

    /// The master key file's name in the data directory.
    public static let masterKeyFileName = "master.key"

    /// Reads the master key at `path`: one line, the base64 of 32 random bytes. With
    /// `create`, a missing file is made first: written under a unique temporary name
    /// created with mode 0600 (never readable by others, not even empty), synced, then
    /// hard-linked into place, which fails if another process made the key meanwhile (its
    /// key is then the one read back), and the directory synced, so a crash never leaves
    /// half a key or loses an acknowledged one.
    public static func masterKey(at path: String, create: Bool) throws -> EncryptionKey {
        if !FileManager.default.fileExists(atPath: path) {
            guard create else { throw KeyFileError("\(path): no such master key file") }
            try makeMasterKey(at: path)
        }
        let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text), bytes.count == 32 else {
            throw KeyFileError("\(path): a master key file holds one line, the base64 of 32 bytes")
        }
        return EncryptionKey(bytes: Array(bytes))
    }

    private static func makeMasterKey(at path: String) throws {
        let temporary = path + ".\(UUID().uuidString).tmp"
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyFileError("\(temporary): cannot create (errno \(errno))") }
        defer { unlink(temporary) }
        let text = Array((Data(EncryptionKey.random().bytes).base64EncodedString() + "\n").utf8)
        let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.count, synced else { throw KeyFileError("\(temporary): cannot write the key") }
        guard link(temporary, path) == 0 || errno == EEXIST else {
            throw KeyFileError("\(path): cannot put the key in place (errno \(errno))")
        }
        try syncDirectory(of: path)
    }

    /// Makes a new name in the directory of `path` durable.
    private static func syncDirectory(of path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY)
        guard fd >= 0 else { throw KeyFileError("\(directory): cannot open to sync") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw KeyFileError("\(directory): fsync failed") }
    }

    /// Parses a KMS key list: one key per line, `KEY_ID [alias/NAME ...]`; `#` starts a
    /// comment. A key id is letters, digits and `-` (a UUID, as AWS makes them, or `mrk-…`).
    public static func parseKeyList(_ text: String, masterKey: EncryptionKey) throws -> KeyRing {
        var ids: [String] = []
        var aliases: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let id = words.first else { continue }
            guard isKeyID(id) else { throw KeyFileError("line \(number + 1): '\(id)' is not a key id (letters, digits and -)") }
            guard !ids.contains(id) else { throw KeyFileError("line \(number + 1): key \(id) is listed twice") }
            ids.append(id)
            for alias in words.dropFirst() {
                guard alias.hasPrefix("alias/"), alias.count > 6, !alias.hasPrefix("alias/aws/") else {
                    throw KeyFileError("line \(number + 1): '\(alias)' is not an alias (alias/NAME; alias/aws/ is AWS's)")
                }
                guard aliases[alias] == nil else { throw KeyFileError("line \(number + 1): alias \(alias) is used twice") }
                aliases[alias] = id
            }
        }
        return KeyRing(masterKey: masterKey, kmsKeyIDs: ids, aliases: aliases)
    }

    private static func isKeyID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128 && text.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "-"
        }
    }

    public struct KeyFileError: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: - KMS key ids

    /// The id of the AWS-managed `aws/s3` key: a UUID derived from the master key, so it
    /// stays the same across restarts and differs between stores.
    public var managedKeyID: String {
        let mac = Array(HMAC<SHA256>.authenticationCode(for: Array("strata aws/s3 key id".utf8), using: masterKey.symmetric))
        let hex = mac.prefix(16).map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4),
                     hex.dropFirst(20).prefix(12)]
        return parts.joined(separator: "-")
    }

    /// The ARN of key `id`.
    static func arn(_ id: String, region: String, account: String) -> String {
        "arn:aws:kms:\(region):\(account):key/\(id)"
    }

    /// The key ARN a request's `x-amz-server-side-encryption-aws-kms-key-id` (or a bucket
    /// default's `KMSMasterKeyID`) names: a key id, a key ARN, an alias or an alias ARN;
    /// nil names the AWS-managed `aws/s3` key. A key that is not in the list answers as
    /// AWS KMS does: 400 `KMS.NotFoundException`.
    func resolve(_ requested: String?, region: String, account: String) throws -> String {
        guard var name = requested?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
            return Self.arn(managedKeyID, region: region, account: account)
        }
        if name.hasPrefix("arn:") {
            // arn:aws:kms:REGION:ACCOUNT:key/ID or …:alias/NAME
            let fields = name.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 6, fields[2] == "kms" else { throw S3Error.kmsNotFound("Invalid arn \(name)") }
            guard fields[3] == region else { throw S3Error.kmsNotFound("Invalid arn \(fields[3])") }
            name = fields[5]
        }
        if name.hasPrefix("alias/") {
            if name == Self.managedAlias { return Self.arn(managedKeyID, region: region, account: account) }
            guard let id = aliases[name] else {
                throw S3Error.kmsNotFound("Alias arn:aws:kms:\(region):\(account):\(name) is not found.")
            }
            return Self.arn(id, region: region, account: account)
        }
        if name.hasPrefix("key/") { name.removeFirst(4) }
        if name == managedKeyID || kmsKeyIDs.contains(name) { return Self.arn(name, region: region, account: account) }
        guard Self.isKeyID(name), name.count >= 32 else { throw S3Error.kmsNotFound("Invalid keyId '\(name)'") }
        throw S3Error.kmsNotFound("Key '\(Self.arn(name, region: region, account: account))' does not exist")
    }

    // MARK: - Wrapping object keys

    /// What an object key is wrapped for: SSE-S3, or the KMS key and the encryption
    /// context (bound to the wrap as AWS KMS binds it: the key unwraps only with both).
    private static func context(_ encryption: ObjectEncryption) -> [UInt8] {
        guard encryption.kind.isKMS else { return Array("s3".utf8) }
        return Array("kms \(encryption.kmsKeyID ?? "")".utf8) + [0] + Array((encryption.context ?? "").utf8)
    }

    /// `encryption` with `objectKey` wrapped into it.
    func wrapping(_ objectKey: EncryptionKey, into encryption: ObjectEncryption) -> ObjectEncryption {
        var wrapped = encryption
        wrapped.wrappedKey = KeyWrap.wrap(objectKey.symmetric, with: masterKey.symmetric, context: Self.context(encryption))
        return wrapped
    }

    /// The object key of an SSE-S3 or SSE-KMS version or upload. A key that does not
    /// unwrap (another master key, or damage) is 500: the store cannot serve it.
    func objectKey(of encryption: ObjectEncryption) throws -> EncryptionKey {
        if encryption.kind.isKMS, let arn = encryption.kmsKeyID, let id = arn.split(separator: "/").last.map(String.init),
           id != managedKeyID, !kmsKeyIDs.contains(id) {
            throw S3Error.kmsNotFound("Key '\(arn)' does not exist")
        }
        do {
            return EncryptionKey(try KeyWrap.unwrap(encryption.wrappedKey, with: masterKey.symmetric, context: Self.context(encryption)))
        } catch {
            throw S3Error.internalError("The object's key does not unwrap with this server's master key (another master key file?)")
        }
    }
}
