import ObjectIndex
import SegmentLog

/// The index's `damaged` table: damaged bytes recovery skipped, by segment and offset
/// (FORMAT.md, "Index"), and what they cost.
public enum DamagedRecords {
    /// Stores a span.
    static func put(_ span: DamagedSpan, _ txn: Transaction, _ index: ObjectIndex) throws {
        try txn.put(index.damaged, IndexKey.damaged(segment: span.segment, offset: span.offset), IndexValue.damaged(span))
    }

    /// Every stored span, in log order.
    public static func all(_ index: ObjectIndex) throws -> [DamagedSpan] {
        try index.environment.read { txn in
            try txn.withCursor(index.damaged) { c in
                var out: [DamagedSpan] = []
                var entry = try c.first()
                while let (k, v) = entry {
                    if let span = try IndexValue.damaged(key: k, value: v) { out.append(span) }
                    entry = try c.next()
                }
                return out
            }
        }
    }

    /// Forgets the spans of a segment that is being deleted (compaction).
    static func remove(segment: UInt64, _ txn: Transaction, _ index: ObjectIndex) throws {
        let prefix = IndexKey.bigEndian(segment)
        let keys = try txn.withCursor(index.damaged) { c in
            var out: [[UInt8]] = []
            var entry = try c.seek(atOrAfter: prefix)
            while let e = entry, e.key.starts(with: prefix) {
                out.append(e.key)
                entry = try c.next()
            }
            return out
        }
        for k in keys { _ = try txn.delete(index.damaged, k) }
    }

    /// What one damaged span cost: an object version, part or other entry.
    public struct Loss: Sendable, Equatable, CustomStringConvertible {
        public var span: DamagedSpan
        /// `bucket/key`, `bucket`, or an upload's part; nil when nothing can be named.
        public var name: String?
        public var versionID: String?
        public var what: String

        public var description: String {
            let at = "segment \(span.segmentFileName) offset \(span.offset)"
            let version = versionID.map { " version \($0)" } ?? ""
            return "\(at): \(name.map { $0 + version + ": " } ?? "")\(what)"
        }
    }

    /// What the damaged spans held, as far as it can be told: entries of the index whose
    /// bytes lie in them (their GET fails its checksum), and commit records that were in
    /// them (named from their payload when it still decodes; the change they made is lost).
    public static func losses(_ spans: [DamagedSpan], index: ObjectIndex, log: SegmentLog) throws -> [Loss] {
        guard !spans.isEmpty else { return [] }
        var out: [Loss] = []
        for span in spans {
            out.append(contentsOf: commitRecordsIn(span, log: log))
        }
        func span(of extent: Extent) -> DamagedSpan? {
            spans.first { $0.segment == extent.segment && extent.offset < $0.offset + $0.length && $0.offset < extent.offset + extent.length }
        }
        try index.environment.read { txn in
            for table in [index.objects, index.versions] {
                try txn.withCursor(table) { c in
                    var entry = try c.first()
                    while let e = entry {
                        if let info = try? IndexValue.object(e.value), let hit = info.extents.lazy.compactMap(span).first {
                            out.append(Loss(span: hit, name: info.bucket + "/" + info.key,
                                            versionID: info.versionID.isEmpty ? nil : info.versionID,
                                            what: "its bytes are damaged (a GET answers 500 InternalError)"))
                        }
                        entry = try c.next()
                    }
                }
            }
            try txn.withCursor(index.parts) { c in
                var entry = try c.first()
                while let e = entry {
                    if let part = try? IndexValue.part(e.value), let hit = part.extents.lazy.compactMap(span).first {
                        out.append(Loss(span: hit, name: "upload \(part.uploadId) part \(part.partNumber)", versionID: nil,
                                        what: "its bytes are damaged (completing the upload with it fails)"))
                    }
                    entry = try c.next()
                }
            }
        }
        return out
    }

    /// The commit records in a damaged span, named from what their payloads still say:
    /// the span is walked record by record with the headers as they read (or as a one-byte
    /// repair makes them check out), as far as their lengths stay inside it.
    private static func commitRecordsIn(_ span: DamagedSpan, log: SegmentLog) -> [Loss] {
        guard let file = log.file(span.segment) else { return [] }
        let headerSize = UInt64(SegmentFormat.recordHeaderSize)
        let end = span.offset + span.length
        var out: [Loss] = []
        var at = span.offset == 0 ? UInt64(SegmentFormat.fileHeaderSize) : span.offset  // a damaged segment header
        while at + headerSize <= end, let raw = try? file.read(at: at, count: SegmentFormat.recordHeaderSize) {
            let header = raw.withUnsafeBytes { bytes in (try? RecordHeader.decode(bytes)) ?? RecordHeader.repaired(bytes) }
                ?? Self.uncheckedHeader(raw)
            guard let header else { break }
            if header.type.isCommitting {
                let available = Int(min(UInt64(header.payloadLength), end - min(end, at + headerSize)))
                let payload = try? file.read(at: at + headerSize, count: available)
                let s = Inspector.summarize(header, offset: at, payload: payload, checksum: "BAD")
                let name = s.bucket.map { bucket in s.key.map { bucket + "/" + $0 } ?? bucket }
                out.append(Loss(span: span, name: name, versionID: s.versionId,
                                what: "a damaged \(s.type) commit record at offset \(at) (sequence \(header.sequence)); the change it made is lost"))
            }
            at += UInt64(header.recordSize)
        }
        return out
    }

    /// A header's type, length and sequence as they read, when its magic and type are
    /// plausible (its checksum is not checked).
    private static func uncheckedHeader(_ raw: [UInt8]) -> RecordHeader? {
        var r = ByteReader(raw)
        guard (try? r.read(UInt32.self)) == SegmentFormat.recordMagic, let rawType = try? r.read(UInt8.self),
              let type = RecordType(rawValue: rawType), (try? r.skip(3)) != nil,
              let length = try? r.read(UInt32.self), Int(length) <= SegmentFormat.maxPayloadSize,
              (try? r.skip(4)) != nil, let sequence = try? r.read(UInt64.self) else { return nil }
        return RecordHeader(type: type, payloadLength: Int(length), payloadCRC: 0, sequence: sequence)
    }
}
