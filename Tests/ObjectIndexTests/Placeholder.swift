import XCTest
@testable import ObjectIndex
