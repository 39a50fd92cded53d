import ArgumentParser
import Foundation
import NIOCore
import ObjectStore

/// An error as a command prints it: plain words an operator can act on, without the S3
/// error code the storage engine's errors carry for the HTTP layer (`InternalError: …`).
func plainWords(_ error: Error) -> String {
    switch error {
    case let e as StoreError:
        switch e.code {
        case .readOnly: return "the data directory no longer takes writes: \(e.message)"
        default: return e.message
        }
    case let e as NIOCore.IOError:
        // NIO's: a socket call failed.
        return "\(e.description)"
    default:
        return "\(error)"
    }
}

/// Stops an offline command (verify, inspect, compact --data, recover) whose `--data`
/// directory does not exist, in one line, before anything tries to open it.
func requireDataDirectory(_ path: String, command: String) throws {
    var isDirectory: ObjCBool = false
    if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        printError("strata \(command) --data \(path): no such directory")
        throw ExitCode(2)
    }
    if !isDirectory.boolValue {
        printError("strata \(command) --data \(path): not a directory")
        throw ExitCode(2)
    }
}
