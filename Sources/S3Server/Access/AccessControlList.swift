import Foundation

/// An S3 access control list: the owner of a bucket or object and the grants on it.
///
/// Stored with the object (`ObjectInfo.acl`) or the bucket (creation attribute `acl`,
/// then the bucket configuration `acl`) in the compact text form of ``encoded()``.
struct AccessControlList: Sendable, Equatable {
    /// What a grant allows (S3 ACL permissions).
    enum Permission: String, Sendable, CaseIterable {
        case fullControl = "FULL_CONTROL"
        case read = "READ"
        case write = "WRITE"
        case readACP = "READ_ACP"
        case writeACP = "WRITE_ACP"

        /// Whether holding this permission gives `wanted` (FULL_CONTROL gives every one).
        func covers(_ wanted: Permission) -> Bool { self == wanted || self == .fullControl }
    }

    /// The predefined groups of S3.
    enum Group: String, Sendable, CaseIterable {
        case allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
        case authenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
        case logDelivery = "http://acs.amazonaws.com/groups/s3/LogDelivery"
    }

    enum Grantee: Sendable, Hashable {
        case user(canonicalId: String)
        case group(Group)

        /// Whether this grantee includes `principal`.
        func matches(_ principal: Principal) -> Bool {
            switch self {
            case .user(let id): return !principal.isAnonymous && id == principal.canonicalId
            case .group(.allUsers): return true
            case .group(.authenticatedUsers): return !principal.isAnonymous
            case .group(.logDelivery): return false
            }
        }
    }

    struct Grant: Sendable, Hashable {
        var grantee: Grantee
        var permission: Permission
    }

    /// The owner's canonical user id.
    var owner: String
    var grants: [Grant]

    /// The default ACL: the owner has full control.
    static func privateACL(owner: String) -> AccessControlList {
        AccessControlList(owner: owner, grants: [Grant(grantee: .user(canonicalId: owner), permission: .fullControl)])
    }

    /// The permissions `principal` holds through this list.
    func permissions(of principal: Principal, ignoringPublicGrants: Bool = false) -> Set<Permission> {
        var out: Set<Permission> = []
        for grant in grants where grant.grantee.matches(principal) {
            if ignoringPublicGrants, grant.grantee.isPublic { continue }
            out.insert(grant.permission)
        }
        return out
    }

    /// Whether `principal` holds `permission` (directly or by FULL_CONTROL).
    func allows(_ principal: Principal, _ permission: Permission, ignoringPublicGrants: Bool = false) -> Bool {
        permissions(of: principal, ignoringPublicGrants: ignoringPublicGrants).contains { $0.covers(permission) }
    }

    /// Whether a grant goes to everyone or every signed-in user (S3's "public" ACL).
    var isPublic: Bool { grants.contains { $0.grantee.isPublic } }

    // MARK: - Canned ACLs and grant headers

    /// The canned ACLs S3 knows (x-amz-acl).
    static let cannedNames: Set<String> = [
        "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
        "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
    ]

    /// The ACL a canned name stands for. `bucketOwner` is nil for a bucket's own ACL, where
    /// the bucket-owner-* names mean the same as private (S3 ignores them on buckets).
    static func canned(_ name: String, owner: String, bucketOwner: String?) throws -> AccessControlList {
        var acl = privateACL(owner: owner)
        switch name {
        case "private": break
        case "public-read":
            acl.grants.append(Grant(grantee: .group(.allUsers), permission: .read))
        case "public-read-write":
            acl.grants.append(Grant(grantee: .group(.allUsers), permission: .read))
            acl.grants.append(Grant(grantee: .group(.allUsers), permission: .write))
        case "authenticated-read":
            acl.grants.append(Grant(grantee: .group(.authenticatedUsers), permission: .read))
        case "log-delivery-write":
            acl.grants.append(Grant(grantee: .group(.logDelivery), permission: .write))
            acl.grants.append(Grant(grantee: .group(.logDelivery), permission: .readACP))
        case "bucket-owner-read":
            if let bucketOwner, bucketOwner != owner {
                acl.grants.append(Grant(grantee: .user(canonicalId: bucketOwner), permission: .read))
            }
        case "bucket-owner-full-control":
            if let bucketOwner, bucketOwner != owner {
                acl.grants.append(Grant(grantee: .user(canonicalId: bucketOwner), permission: .fullControl))
            }
        case "aws-exec-read":
            throw S3Error.notImplemented("The canned ACL aws-exec-read (read access for Amazon EC2) is not implemented by Strata")
        default:
            throw S3Error.invalidArgument("", name: "x-amz-acl", value: name)
        }
        return acl
    }

    /// The x-amz-grant-* headers and the permission each gives.
    static let grantHeaders: [(header: String, permission: Permission)] = [
        ("x-amz-grant-read", .read), ("x-amz-grant-write", .write), ("x-amz-grant-read-acp", .readACP),
        ("x-amz-grant-write-acp", .writeACP), ("x-amz-grant-full-control", .fullControl),
    ]

    /// The ACL a request asks for with `x-amz-acl` or `x-amz-grant-*`, or nil if it asks
    /// for none. Grants name users by `id="…"` (a known canonical id) or groups by
    /// `uri="…"`; `emailAddress="…"` cannot be resolved here.
    static func fromHeaders(_ header: (String) -> String?, owner: String, bucketOwner: String?,
                            users: UserDirectory) throws -> AccessControlList? {
        let grantValues = grantHeaders.compactMap { entry in header(entry.header).map { (entry.permission, $0) } }
        if let name = header("x-amz-acl") {
            guard grantValues.isEmpty else {
                throw S3Error.invalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
            }
            return try canned(name.trimmingCharacters(in: .whitespaces), owner: owner, bucketOwner: bucketOwner)
        }
        guard !grantValues.isEmpty else { return nil }
        var acl = AccessControlList(owner: owner, grants: [])
        for (permission, value) in grantValues {
            for item in value.split(separator: ",") {
                let grantee = try parseGrantee(item.trimmingCharacters(in: .whitespaces), users: users)
                acl.grants.append(Grant(grantee: grantee, permission: permission))
            }
        }
        return acl
    }

    /// One `type="value"` item of a grant header.
    private static func parseGrantee(_ item: String, users: UserDirectory) throws -> Grantee {
        guard let equals = item.firstIndex(of: "=") else {
            throw S3Error.invalidArgument("Invalid grant header value", name: "x-amz-grant", value: item)
        }
        let type = item[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
        var value = item[item.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
        switch type {
        case "id": return try user(value, users: users)
        case "uri": return try group(value)
        case "emailaddress": throw S3Error.unresolvableGrantByEmailAddress()
        default: throw S3Error.invalidArgument("Argument format not recognized", name: "x-amz-grant", value: item)
        }
    }

    private static func user(_ id: String, users: UserDirectory) throws -> Grantee {
        guard users.principal(canonicalId: id) != nil else {
            throw S3Error.invalidArgument("Invalid id", name: "CanonicalUser/ID", value: id)
        }
        return .user(canonicalId: id)
    }

    private static func group(_ uri: String) throws -> Grantee {
        guard let group = Group(rawValue: uri) else {
            throw S3Error.invalidArgument("Invalid group uri", name: "Group/URI", value: uri)
        }
        return .group(group)
    }

    // MARK: - AccessControlPolicy documents

    /// Parses a PutBucketAcl / PutObjectAcl body. The grantee's type follows from which
    /// of ID, URI and EmailAddress it carries (xsi:type says the same).
    static func parse(_ bytes: [UInt8], users: UserDirectory) throws -> AccessControlList {
        let root = try XMLTree.parseDocument(bytes, root: "AccessControlPolicy")
        guard let ownerId = root.child("Owner")?.child("ID")?.text.trimmingCharacters(in: .whitespacesAndNewlines),
              let list = root.child("AccessControlList") else {
            throw S3Error.malformedACLError()
        }
        var acl = AccessControlList(owner: ownerId, grants: [])
        for node in list.children {
            guard node.name == "Grant", let granteeNode = node.child("Grantee"),
                  let permissionText = node.child("Permission")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
            else { throw S3Error.malformedACLError() }
            guard let permission = Permission(rawValue: permissionText) else { throw S3Error.malformedACLError() }
            let grantee: Grantee
            if let id = granteeNode.child("ID")?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
                grantee = try user(id, users: users)
            } else if let uri = granteeNode.child("URI")?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
                grantee = try group(uri)
            } else if granteeNode.child("EmailAddress") != nil {
                throw S3Error.unresolvableGrantByEmailAddress()
            } else {
                throw S3Error.malformedACLError()
            }
            acl.grants.append(Grant(grantee: grantee, permission: permission))
        }
        guard acl.grants.count <= 100 else { throw S3Error.malformedACLError() }
        return acl
    }

    static let xsi = "http://www.w3.org/2001/XMLSchema-instance"

    /// The AccessControlPolicy document GetBucketAcl / GetObjectAcl return.
    func render(users: UserDirectory) -> XMLWriter {
        var xml = XMLWriter()
        xml.open("AccessControlPolicy", namespace: s3Namespace)
        xml.element("Owner") {
            $0.element("ID", owner)
            $0.element("DisplayName", users.displayName(canonicalId: owner))
        }
        xml.element("AccessControlList") { xml in
            for grant in grants {
                xml.element("Grant") { xml in
                    switch grant.grantee {
                    case .user(let id):
                        xml.open("Grantee", attributes: ["xmlns:xsi": Self.xsi, "xsi:type": "CanonicalUser"])
                        xml.element("ID", id)
                        xml.element("DisplayName", users.displayName(canonicalId: id))
                        xml.close()
                    case .group(let group):
                        xml.open("Grantee", attributes: ["xmlns:xsi": Self.xsi, "xsi:type": "Group"])
                        xml.element("URI", group.rawValue)
                        xml.close()
                    }
                    xml.element("Permission", grant.permission.rawValue)
                }
            }
        }
        xml.close()
        return xml
    }

    // MARK: - Stored form

    /// `acl1` then one line each: `owner ID`, `user ID PERMISSION`, `group URI PERMISSION`.
    /// Display names are not stored: they are looked up when shown, so a renamed user
    /// shows its new name.
    func encoded() -> [UInt8] {
        var text = "acl1\nowner \(owner)\n"
        for grant in grants {
            switch grant.grantee {
            case .user(let id): text += "user \(id) \(grant.permission.rawValue)\n"
            case .group(let group): text += "group \(group.rawValue) \(grant.permission.rawValue)\n"
            }
        }
        return Array(text.utf8)
    }

    /// Decodes ``encoded()``; nil for anything else (an empty blob: no ACL stored).
    static func decode(_ bytes: [UInt8]) -> AccessControlList? {
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard lines.first == "acl1", lines.count >= 2, lines[1].hasPrefix("owner ") else { return nil }
        var acl = AccessControlList(owner: String(lines[1].dropFirst(6)), grants: [])
        for line in lines.dropFirst(2) {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let permission = Permission(rawValue: String(fields[2])) else { return nil }
            switch fields[0] {
            case "user": acl.grants.append(Grant(grantee: .user(canonicalId: String(fields[1])), permission: permission))
            case "group":
                guard let group = Group(rawValue: String(fields[1])) else { return nil }
                acl.grants.append(Grant(grantee: .group(group), permission: permission))
            default: return nil
            }
        }
        return acl
    }
}

extension AccessControlList.Grantee {
    /// AllUsers and AuthenticatedUsers grants make a resource public (Block Public Access).
    var isPublic: Bool {
        if case .group(let group) = self { return group == .allUsers || group == .authenticatedUsers }
        return false
    }
}
