// SegmentLog
