import NIOCore
import ObjectStore

/// DeleteObjects: `POST /bucket?delete` with a `<Delete>` document.
extension S3RequestHandler {
    func deleteObjects(_ bucket: String, _ context: Context) async throws -> S3Response {
        // The body is small (at most 1000 keys of 1 KiB): read it whole. S3 requires
        // Content-MD5 or an x-amz-checksum-* header here; newer SDKs send only the
        // checksum (docs/S3-NOTES.md, "DeleteObjects without Content-MD5"). Either is
        // verified; neither is accepted too.
        let bytes = try await readDocument(context, limit: 2 * 1024 * 1024)
        let document = try DeleteRequest.parse(bytes)
        _ = try await store.bucket(bucket)

        // Deletes run concurrently so their commits share fsyncs (group commit); the
        // result lists them in request order.
        var results = [Result<DeleteResult, S3Error>?](repeating: nil, count: document.objects.count)
        try await withThrowingTaskGroup(of: (Int, Result<DeleteResult, S3Error>).self) { group in
            var next = 0
            func addNext() {
                guard next < document.objects.count else { return }
                let index = next, object = document.objects[index]
                next += 1
                group.addTask { [store] in
                    do {
                        var version: String?
                        if let versionId = object.versionId {
                            guard ObjectStore.isWellFormedVersionID(versionId) else {
                                throw S3Error.invalidArgument("Invalid version id specified")
                            }
                            version = versionId == "null" ? "" : versionId
                        }
                        // Each key is authorized on its own, as S3 does (a policy may
                        // deny some keys): a denied key is an AccessDenied entry.
                        try await self.authorize(context, AccessRule.bucket("s3:DeleteObject", .write)
                                                    .forVersion(object.versionId != nil),
                                                 bucket: bucket, key: object.key)
                        // A locked version is an AccessDenied entry (the engine's rule).
                        let bypass = version != nil ? await self.bypassesGovernance(context, bucket: bucket, key: object.key) : false
                        let result = try await store.deleteObject(bucket: bucket, key: object.key, versionID: version,
                                                                  bypassingGovernance: bypass)
                        return (index, .success(result))
                    } catch let error as S3Error {
                        return (index, .failure(error))
                    } catch let error as StoreError {
                        return (index, .failure(Self.s3Error(error, resource: "/\(bucket)/\(object.key)")))
                    } catch {
                        return (index, .failure(S3Error.internalError()))
                    }
                }
            }
            for _ in 0..<32 { addNext() }
            while let (index, result) = try await group.next() {
                results[index] = result
                addNext()
            }
        }

        var xml = XMLWriter()
        xml.open("DeleteResult", namespace: Self.namespace)
        for (object, result) in zip(document.objects, results) {
            switch result {
            case .failure(let error)?:
                xml.element("Error") {
                    $0.element("Key", object.key)
                    if let versionId = object.versionId { $0.element("VersionId", versionId) }
                    $0.element("Code", error.code)
                    $0.element("Message", error.message)
                }
            case .success(let deleted)?:
                guard !document.quiet else { continue }
                // A version removed names itself (DeleteMarker when it was one); a delete
                // marker made or removed is named in DeleteMarkerVersionId, as in S3.
                xml.element("Deleted") {
                    $0.element("Key", object.key)
                    if let versionId = object.versionId { $0.element("VersionId", versionId) }
                    if deleted.isDeleteMarker {
                        $0.element("DeleteMarker", "true")
                        if let marker = deleted.versionID {
                            $0.element("DeleteMarkerVersionId", Self.showVersion(marker))
                        }
                    }
                }
            case nil:
                continue
            }
        }
        xml.close()
        return .xml(xml)
    }
}
