import XCTest
@testable import ObjectStore
