import XCTest
@testable import SegmentLog
