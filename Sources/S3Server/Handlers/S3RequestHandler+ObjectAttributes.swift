import NIOHTTP1
import ObjectStore

/// GetObjectAttributes (`GET ?attributes`): what `x-amz-object-attributes` asks for of a
/// version, ETag, Checksum, ObjectParts (paged by `x-amz-max-parts` and
/// `x-amz-part-number-marker`), StorageClass and ObjectSize, without its bytes.
extension S3RequestHandler {
    static let objectAttributeNames: Set<String> = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]

    func getObjectAttributes(_ object: ObjectAddress, _ context: Context) async throws -> S3Response {
        let request = context.request
        let asked = Set(request.headers["x-amz-object-attributes"]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty })
        guard !asked.isEmpty else {
            throw S3Error.invalidArgument("Invalid attribute name specified.", name: "x-amz-object-attributes", value: "")
        }
        if let unknown = asked.first(where: { !Self.objectAttributeNames.contains($0) }) {
            throw S3Error.invalidArgument("Invalid attribute name specified.", name: "x-amz-object-attributes", value: unknown)
        }
        let maxParts = try request.header("x-amz-max-parts").map { text -> Int in
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided max-parts not an integer or within integer range", name: "x-amz-max-parts", value: text)
            }
            return min(value, 1000)
        } ?? 1000
        let marker = try request.header("x-amz-part-number-marker").map { text -> Int in
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided part-number-marker not an integer or within integer range",
                                              name: "x-amz-part-number-marker", value: text)
            }
            return value
        } ?? 0
        let info = try await addressedVersion(object, context)
        // An SSE-C version answers only to its key, as GET and HEAD do (no bytes: no unwrap).
        _ = try objectKey(for: info, request.headers, unwrapping: false, remoteAddress: context.remoteAddress)

        var xml = XMLWriter()
        xml.open("GetObjectAttributesResponse", namespace: Self.namespace)
        if asked.contains("ETag") { xml.element("ETag", info.etag) }
        if asked.contains("Checksum"), !info.checksums.isEmpty {
            xml.open("Checksum")
            for (name, value) in info.checksums.sorted(by: { $0.key < $1.key }) { xml.element("Checksum\(name)", value) }
            if let type = ObjectHeaders.checksumType(info.checksums) { xml.element("ChecksumType", type) }
            xml.close()
        }
        if asked.contains("ObjectParts"), !info.partSizes.isEmpty {
            let numbers = Array(1...info.partSizes.count).filter { $0 > marker }
            let page = Array(numbers.prefix(maxParts))
            let truncated = numbers.count > page.count
            xml.open("ObjectParts")
            xml.element("PartsCount", info.partSizes.count)  // the wire name of TotalPartsCount
            xml.element("PartNumberMarker", marker)
            if let last = page.last { xml.element("NextPartNumberMarker", last) }
            xml.element("MaxParts", maxParts)
            xml.element("IsTruncated", truncated ? "true" : "false")
            for number in page {
                xml.open("Part")
                xml.element("PartNumber", number)
                xml.element("Size", info.partSizes[number - 1])
                if number <= info.partChecksums.count {
                    for (name, value) in info.partChecksums[number - 1].sorted(by: { $0.key < $1.key }) {
                        xml.element("Checksum\(name)", value)
                    }
                }
                xml.close()
            }
            xml.close()
        }
        if asked.contains("StorageClass") { xml.element("StorageClass", info.metadata["x-amz-storage-class"] ?? "STANDARD") }
        if asked.contains("ObjectSize") { xml.element("ObjectSize", info.size) }
        xml.close()
        var response = S3Response.xml(xml)
        response.headers.add(name: "Last-Modified", value: TimeFormat.httpDate(milliseconds: info.lastModified))
        Self.addVersionHeader(of: info, asked: object.versionId != nil, to: &response)
        if !info.versionID.isEmpty, object.versionId == nil {
            response.headers.replaceOrAdd(name: "x-amz-version-id", value: info.versionID)
        }
        return response
    }
}
