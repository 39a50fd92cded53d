extension S3Error {
    /// The S3 error document:
    /// `<?xml …?><Error><Code/><Message/>[extra fields]<Resource/><RequestId/><HostId/></Error>`.
    ///
    /// - Parameters:
    ///   - resource: the request path the error is about (`/bucket/key`), if any.
    ///   - requestId: the id also sent in `x-amz-request-id`.
    ///   - hostId: the id also sent in `x-amz-id-2`, if any.
    public func xmlDocument(resource: String?, requestId: String, hostId: String? = nil) -> String {
        var xml = XMLWriter()
        xml.open("Error")
        xml.element("Code", code)
        xml.element("Message", message)
        for field in fields { xml.element(field.name, field.value) }
        if let resource { xml.element("Resource", resource) }
        xml.element("RequestId", requestId)
        if let hostId { xml.element("HostId", hostId) }
        xml.close()
        return xml.output
    }
}
