import Foundation
import Crypto

/// Who a request is from: a user with credentials, or anonymous (no signature).
///
/// Every user, the root credentials included, owns the buckets it creates and the objects
/// it writes, and other users reach them only through ACL grants or a bucket policy, as
/// separate AWS accounts do. Each user also belongs to an AWS *account* (``accountId``):
/// its own unless the users file puts several users in one. A bucket policy can name the
/// account (`arn:aws:iam::ACCOUNT:root`, or the bare id) to mean all its users, and
/// `x-amz-expected-bucket-owner` can name the owner by its account id.
public struct Principal: Sendable, Hashable {
    /// The access key the request was signed with; nil for anonymous requests.
    public let accessKeyId: String?
    /// The canonical user id shown as Owner ID and used in ACL grants.
    public let canonicalId: String
    /// Shown as Owner DisplayName and in ACL grants; a policy names a user by it
    /// (`arn:aws:iam::…:user/NAME`).
    public let displayName: String
    /// The root credentials (`--access-key`): also the administrator of the `/_strata` endpoints.
    public let isRoot: Bool
    /// The 12-digit AWS account id the user belongs to: the users file's, or one derived
    /// from the canonical id (``derivedAccountId(canonicalId:)``).
    public let accountId: String

    /// The anonymous caller, matched only by grants to AllUsers and policies for `*`.
    public static let anonymous = Principal(accessKeyId: nil, canonicalId: "65a011a29cdf8ec533ec3d1ccaae921c",
                                            displayName: "anonymous", isRoot: false)

    public var isAnonymous: Bool { accessKeyId == nil }

    /// - Parameter accountId: the user's account id (12 digits); nil: the one derived from
    ///   `canonicalId`, an account of the user's own.
    public init(accessKeyId: String?, canonicalId: String, displayName: String, isRoot: Bool, accountId: String? = nil) {
        self.accessKeyId = accessKeyId
        self.canonicalId = canonicalId
        self.displayName = displayName
        self.isRoot = isRoot
        self.accountId = accountId ?? Self.derivedAccountId(canonicalId: canonicalId)
    }

    /// The account of a user the users file gives none: an account of its own, with an id
    /// that stays the same as long as the canonical id does. It is the SHA-256 of
    /// `strata-account:` followed by the canonical id, its first 8 bytes read as a
    /// big-endian number, modulo 10^12, written as 12 digits (leading zeros kept).
    public static func derivedAccountId(canonicalId: String) -> String {
        let digest = SHA256.hash(data: Array("strata-account:\(canonicalId)".utf8))
        let number = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 1_000_000_000_000
        let digits = String(number)
        return String(repeating: "0", count: 12 - digits.count) + digits
    }

    /// Whether `text` is written as an AWS account id: exactly 12 ASCII digits.
    static func isAccountId(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// The principal of root credentials: its canonical id is derived from the access key,
    /// so it stays the same across restarts (buckets created before users existed are its).
    public static func root(accessKeyId: String) -> Principal {
        Principal(accessKeyId: accessKeyId,
                  canonicalId: Hex.encode(SHA256.hash(data: Array("strata:\(accessKeyId)".utf8))),
                  displayName: accessKeyId, isRoot: true)
    }
}

/// Every principal that can sign requests: the root credentials and the users file.
public struct UserDirectory: Sendable {
    struct Entry: Sendable {
        var secret: String
        var principal: Principal
    }

    private var byAccessKey: [String: Entry] = [:]
    private var byCanonicalId: [String: Principal] = [:]

    /// The root credentials alone (access key → secret).
    public init(root: [String: String]) {
        for (key, secret) in root.sorted(by: { $0.key < $1.key }) {
            let principal = Principal.root(accessKeyId: key)
            byAccessKey[key] = Entry(secret: secret, principal: principal)
            byCanonicalId[principal.canonicalId] = principal
        }
    }

    /// The root credentials and the users of a users file (see ``parseUsersFile(_:)``).
    public init(root: [String: String], usersFile text: String) throws {
        self.init(root: root)
        for user in try Self.parseUsersFile(text) {
            guard byAccessKey[user.principal.accessKeyId!] == nil else {
                throw UsersFileError(line: user.line, message: "access key \(user.principal.accessKeyId!) is used twice")
            }
            guard byCanonicalId[user.principal.canonicalId] == nil else {
                throw UsersFileError(line: user.line, message: "canonical user id \(user.principal.canonicalId) is used twice")
            }
            // Policies name users by display name (`arn:aws:iam::…:user/NAME`, `${aws:username}`).
            guard !byAccessKey.values.contains(where: { $0.principal.displayName == user.principal.displayName }) else {
                throw UsersFileError(line: user.line, message: "display name \(user.principal.displayName) is used twice")
            }
            byAccessKey[user.principal.accessKeyId!] = Entry(secret: user.secret, principal: user.principal)
            byCanonicalId[user.principal.canonicalId] = user.principal
        }
    }

    /// The secret of an access key, for signature checks.
    public func secret(accessKeyId: String) -> String? { byAccessKey[accessKeyId]?.secret }

    /// The principal that signs with an access key.
    public func principal(accessKeyId: String) -> Principal? { byAccessKey[accessKeyId]?.principal }

    /// The principal with a canonical id (ACL grants, owners).
    public func principal(canonicalId: String) -> Principal? { byCanonicalId[canonicalId] }

    /// Whether any user belongs to the account `accountId`.
    func hasAccount(_ accountId: String) -> Bool {
        byAccessKey.values.contains { $0.principal.accountId == accountId }
    }

    /// The account of the owner with a canonical id: the user's, or for an owner that no
    /// longer exists in the users file, the one derived from the id.
    func accountId(canonicalId: String) -> String {
        byCanonicalId[canonicalId]?.accountId ?? Principal.derivedAccountId(canonicalId: canonicalId)
    }

    /// The display name shown for a canonical id: the user's, or the id itself for an
    /// owner that no longer exists in the users file.
    public func displayName(canonicalId: String) -> String {
        byCanonicalId[canonicalId]?.displayName ?? canonicalId
    }

    /// Every user (root credentials first).
    public var principals: [Principal] {
        byAccessKey.values.map(\.principal).sorted { ($0.isRoot ? 0 : 1, $0.accessKeyId!) < ($1.isRoot ? 0 : 1, $1.accessKeyId!) }
    }

    struct ParsedUser {
        var line: Int
        var secret: String
        var principal: Principal
    }

    /// The users file (`strata serve --users FILE`): one user per line,
    ///
    ///     ACCESS_KEY_ID  SECRET_ACCESS_KEY  CANONICAL_USER_ID  [ACCOUNT_ID]  DISPLAY_NAME
    ///
    /// separated by spaces or tabs. Blank lines and lines starting with `#` are ignored.
    /// The canonical id is what ACL grants name (`id="…"`), letters, digits, `-` and `_`
    /// (S3's are 64 hex digits). The account id is optional: a word of exactly 12 digits
    /// after the canonical id, with more after it, is the account id; users that give the
    /// same one share that account, and a user without one gets an account of its own
    /// (``Principal/derivedAccountId(canonicalId:)``). The display name is the rest of the line.
    static func parseUsersFile(_ text: String) throws -> [ParsedUser] {
        var users: [ParsedUser] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(maxSplits: 3, whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard fields.count == 4 else {
                throw UsersFileError(line: number + 1,
                                     message: "expected ACCESS_KEY_ID SECRET_ACCESS_KEY CANONICAL_USER_ID [ACCOUNT_ID] DISPLAY_NAME")
            }
            var displayName = fields[3].trimmingCharacters(in: .whitespaces)
            var accountId: String?
            let rest = displayName.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            if rest.count == 2, Principal.isAccountId(rest[0]) {
                accountId = String(rest[0])
                displayName = rest[1].trimmingCharacters(in: .whitespaces)
            }
            let idCharacters = fields[2].unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
            }
            guard idCharacters, (1...128).contains(fields[2].count) else {
                throw UsersFileError(line: number + 1, message: "the canonical user id must be 1 to 128 letters, digits, '-' or '_'")
            }
            guard fields[0].utf8.count <= 128, fields[1].utf8.count <= 128, !displayName.isEmpty else {
                throw UsersFileError(line: number + 1, message: "access key and secret are at most 128 bytes; a display name is required")
            }
            users.append(ParsedUser(line: number + 1, secret: fields[1],
                                    principal: Principal(accessKeyId: fields[0], canonicalId: fields[2],
                                                         displayName: displayName, isRoot: false, accountId: accountId)))
        }
        return users
    }
}

/// A users file that cannot be used: which line and why.
public struct UsersFileError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "users file, line \(line): \(message)" }
}
