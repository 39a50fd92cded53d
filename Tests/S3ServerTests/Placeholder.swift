import XCTest
@testable import S3Server
