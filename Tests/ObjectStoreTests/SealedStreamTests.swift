import Crypto
import StrataTestSupport
import XCTest
@testable import ObjectStore

/// The sealed-stream encryption on its own: round trips at every size around a chunk
/// boundary, ranges that open only the chunks they need, and every way the stored bytes
/// can be changed, reordered, cut or opened with another key failing.
final class SealedStreamTests: XCTestCase {
    let chunk = SealedStream.chunkSize

    private func seal(_ plaintext: [UInt8], key: SymmetricKey, pieces: Int = 3) -> [UInt8] {
        var sealer = SealedStream.Sealer(key: key)
        var out: [UInt8] = []
        // Fed in uneven pieces, as bytes arrive from a connection.
        var start = 0
        let step = max(1, plaintext.count / pieces + 7)
        while start < plaintext.count {
            let end = min(plaintext.count, start + step)
            out += sealer.append(plaintext[start..<end])
            start = end
        }
        return out + sealer.finish()
    }

    private func key() -> SymmetricKey {
        SealedStream.streamKey(objectKey: SymmetricKey(size: .bits256), salt: SealedStream.newSalt())
    }

    func testRoundTripAtEverySizeAroundAChunkBoundary() throws {
        for size in [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 5] {
            let plaintext = pattern(size % 251, size)
            let key = key()
            let sealed = seal(plaintext, key: key)
            XCTAssertEqual(UInt64(sealed.count), SealedStream.sealedSize(plaintext: UInt64(size)), "\(size)")
            let opener = SealedStream.Opener(key: key, plaintextSize: UInt64(size))
            XCTAssertEqual(try opener.open(0..<UInt64(size), sealed: sealed), plaintext, "\(size)")
        }
    }

    func testTheSamePlaintextUnderTwoStreamsSealsDifferently() {
        let plaintext = pattern(1, 1000)
        XCTAssertNotEqual(seal(plaintext, key: key()), seal(plaintext, key: key()))
        let sealed = seal(plaintext, key: key())
        XCTAssertNil(sealed.firstRange(of: plaintext[0..<32]), "no run of plaintext in the sealed bytes")
    }

    func testARangeOpensOnlyTheChunksItTouches() throws {
        let size = 3 * chunk + 100
        let plaintext = pattern(7, size)
        let key = key()
        let sealed = seal(plaintext, key: key)
        let opener = SealedStream.Opener(key: key, plaintextSize: UInt64(size))
        for range in [0..<1, UInt64(chunk - 3)..<UInt64(chunk + 3), UInt64(chunk)..<UInt64(2 * chunk),
                      UInt64(3 * chunk)..<UInt64(size), 5..<UInt64(size)] {
            let span = SealedStream.span(covering: range, plaintextSize: UInt64(size))
            let piece = Array(sealed[Int(span.sealed.lowerBound)..<Int(span.sealed.upperBound)])
            XCTAssertEqual(try opener.open(range, sealed: piece), Array(plaintext[Int(range.lowerBound)..<Int(range.upperBound)]),
                           "\(range)")
        }
        // A range inside the second chunk reads that chunk's sealed bytes only.
        let inner = SealedStream.span(covering: UInt64(chunk + 10)..<UInt64(chunk + 20), plaintextSize: UInt64(size))
        XCTAssertEqual(inner.chunks, 1..<2)
        XCTAssertEqual(inner.sealed, UInt64(chunk + 16)..<UInt64(2 * (chunk + 16)))
        XCTAssertEqual(inner.skip, 10)
    }

    func testEveryChangedByteIsRefused() throws {
        let size = chunk + 50
        let key = key()
        let sealed = seal(pattern(3, size), key: key)
        let opener = SealedStream.Opener(key: key, plaintextSize: UInt64(size))
        for position in stride(from: 0, to: sealed.count, by: 997) + [sealed.count - 1] {
            var changed = sealed
            changed[position] ^= 0x01
            XCTAssertThrowsError(try opener.open(0..<UInt64(size), sealed: changed), "byte \(position)")
        }
    }

    func testAnotherKeyOpensNothing() {
        let sealed = seal(pattern(4, 100), key: key())
        XCTAssertThrowsError(try SealedStream.Opener(key: key(), plaintextSize: 100).open(0..<100, sealed: sealed))
    }

    func testChunksCannotBeReorderedOrCutShort() throws {
        let key = key()
        let sealed = seal(pattern(5, 2 * chunk), key: key)
        let sealedChunk = chunk + SealedStream.tagSize
        let swapped = Array(sealed[sealedChunk...]) + Array(sealed[..<sealedChunk])
        let opener = SealedStream.Opener(key: key, plaintextSize: UInt64(2 * chunk))
        XCTAssertThrowsError(try opener.open(0..<UInt64(2 * chunk), sealed: swapped))
        // The first chunk alone, passed off as a whole one-chunk stream: it is not final.
        let cut = SealedStream.Opener(key: key, plaintextSize: UInt64(chunk))
        XCTAssertThrowsError(try cut.open(0..<UInt64(chunk), sealed: Array(sealed[..<sealedChunk])))
        // An empty stream's one chunk is not any other stream's end.
        let empty = seal([], key: key)
        XCTAssertEqual(empty.count, SealedStream.tagSize)
        XCTAssertEqual(try SealedStream.Opener(key: key, plaintextSize: 0).open(chunk: 0, empty), [])
    }

    func testObjectKeysWrapAndUnwrapOnlyWithTheirMasterKeyAndContext() throws {
        let master = SymmetricKey(size: .bits256), objectKey = SymmetricKey(size: .bits256)
        let wrapped = KeyWrap.wrap(objectKey, with: master, context: Array("aws/s3".utf8))
        XCTAssertEqual(wrapped.count, KeyWrap.wrappedSize)
        XCTAssertNotEqual(wrapped, KeyWrap.wrap(objectKey, with: master, context: Array("aws/s3".utf8)), "fresh salt each time")
        let unwrapped = try KeyWrap.unwrap(wrapped, with: master, context: Array("aws/s3".utf8))
        XCTAssertEqual(unwrapped.withUnsafeBytes { Array($0) }, objectKey.withUnsafeBytes { Array($0) })
        XCTAssertThrowsError(try KeyWrap.unwrap(wrapped, with: SymmetricKey(size: .bits256), context: Array("aws/s3".utf8)))
        XCTAssertThrowsError(try KeyWrap.unwrap(wrapped, with: master, context: Array("other".utf8)))
        var damaged = wrapped
        damaged[40] ^= 1
        XCTAssertThrowsError(try KeyWrap.unwrap(damaged, with: master, context: Array("aws/s3".utf8)))
    }

    func testACustomerKeyCheckRecognisesOnlyItsKey() {
        let key = SymmetricKey(size: .bits256)
        let check = CustomerKeyCheck.make(for: key)
        XCTAssertTrue(check.matches(key))
        XCTAssertFalse(check.matches(SymmetricKey(size: .bits256)))
        XCTAssertFalse(check.mac.isEmpty)
        XCTAssertNotEqual(check, CustomerKeyCheck.make(for: key), "salted: two checks of one key differ")
    }
}
