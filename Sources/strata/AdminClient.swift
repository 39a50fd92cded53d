import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import S3Server

/// How a command reaches a running server: `--server URL`, the CA to trust for https, the
/// region to sign for, timeouts and the root credentials. Shared by every command that
/// can ask a server instead of opening the data directory itself.
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "Ask the server at this URL (http://127.0.0.1:9000 or https://…) instead of opening --data.")
    var server: String?

    @Option(name: .long, help: "With an https --server: a PEM file of CA certificates to trust besides the system's (default: $AWS_CA_BUNDLE; for `strata serve --tls-self-signed`, DATA/tls-ca.pem).")
    var caBundle: String?

    @Option(name: .long, help: "The region to sign --server requests for: the server's --region, if it sets one.")
    var region = "us-east-1"

    @Option(name: .long, help: "Seconds to wait for the connection to --server.")
    var connectTimeout: Int64 = 10

    @Option(name: .long, help: "Seconds to wait for the server's answer once connected (compaction of many segments takes a while).")
    var timeout: Int64 = 3600

    @OptionGroup var credentials: RootCredentials

    func validate() throws {
        guard connectTimeout > 0 else { throw ValidationError("--connect-timeout must be a positive number of seconds") }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    /// The client for `server` (the command's `--server`).
    func client(for server: String) throws -> AdminClient {
        let (accessKey, secretKey) = credentials.resolved
        return try AdminClient(url: server,
                               caBundle: caBundle ?? ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"].flatMap { $0.isEmpty ? nil : $0 },
                               signer: SigV4Signer(accessKey: accessKey, secretKey: secretKey, region: region),
                               connectTimeout: .seconds(connectTimeout), readTimeout: .seconds(timeout))
    }
}

/// A client of the operator endpoints of a running `strata serve` (`/_strata/…`): one
/// request at a time, signed with SigV4 like any S3 request, over http or https.
///
/// Every failure is an ``AdminClient/Failure`` whose description is one line an operator
/// can act on (the server is not running, the secret is wrong, the CA is not trusted),
/// never an S3 error document.
struct AdminClient {
    /// `http` or `https`.
    let scheme: String
    let host: String
    let port: Int
    let signer: SigV4Signer
    let caBundle: String?
    let connectTimeout: TimeAmount
    let readTimeout: TimeAmount

    /// The server's URL as the user wrote it, without a trailing slash, for messages.
    var url: String { "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    init(url: String, caBundle: String?, signer: SigV4Signer, connectTimeout: TimeAmount, readTimeout: TimeAmount) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
              components.path.isEmpty || components.path == "/" else {
            throw Failure("--server \(url): not a server URL such as http://127.0.0.1:9000 or https://localhost:9000")
        }
        if let caBundle, !FileManager.default.isReadableFile(atPath: caBundle) {
            throw Failure("--ca-bundle \(caBundle): no such file")
        }
        self.scheme = scheme
        self.host = host
        self.port = components.port ?? (scheme == "https" ? 443 : 80)
        self.signer = signer
        self.caBundle = caBundle
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
    }

    /// A failure, described in one line.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// POSTs to `path` with `rawQuery` (already percent-encoded) and an empty body, and
    /// returns the body of a 2xx answer.
    func post(_ path: String, rawQuery: String) async throws -> [UInt8] {
        try await send(.POST, path, rawQuery: rawQuery)
    }

    /// Sends `method` to `path` with `rawQuery` (already percent-encoded) and `body`, and
    /// returns the body of a 2xx answer.
    func send(_ method: HTTPMethod, _ path: String, rawQuery: String = "", body: [UInt8] = []) async throws -> [UInt8] {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caBundle { tls.additionalTrustRoots = [.file(caBundle)] }
        // One attempt: a refused connection is reported at once, not retried until the
        // connect timeout.
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.retryConnectionEstablishment = false
        let configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: connectTimeout, read: readTimeout),
                                                     connectionPool: pool, proxy: nil)
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)

        let hostHeader = (host.contains(":") ? "[\(host)]" : host) + ((scheme == "http" && port == 80) || (scheme == "https" && port == 443) ? "" : ":\(port)")
        var request = HTTPClientRequest(url: url + path + (rawQuery.isEmpty ? "" : "?" + rawQuery))
        request.method = method
        for (name, value) in signer.headers(method: method.rawValue, host: hostHeader, rawPath: path, rawQuery: rawQuery, body: body) {
            request.headers.replaceOrAdd(name: name, value: value)
        }
        request.headers.replaceOrAdd(name: "Content-Length", value: "\(body.count)")
        if !body.isEmpty {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let answer: Result<(HTTPResponseStatus, ByteBuffer), Error>
        do {
            let response = try await client.execute(request, deadline: .now() + connectTimeout + readTimeout + .seconds(5))
            answer = .success((response.status, try await response.body.collect(upTo: 64 << 20)))
        } catch {
            answer = .failure(describe(error))
        }
        try? await client.shutdown()
        let (status, body) = try answer.get()
        guard (200..<300).contains(status.code) else { throw refusal(status, document: String(buffer: body)) }
        return Array(buffer: body)
    }

    /// A transport error in plain words.
    private func describe(_ error: Error) -> Failure {
        let hint = "is strata serve running there?"
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout:
                return Failure("cannot connect to \(url): no connection within \(connectTimeout.seconds) s (\(hint))")
            case .readTimeout, .deadlineExceeded:
                return Failure("\(url) did not answer within \(readTimeout.seconds) s (--timeout)")
            case .remoteConnectionClosed:
                return Failure("\(url) closed the connection without an answer"
                               + (scheme == "http" ? " (does it serve https?)" : ""))
            default:
                break
            }
        }
        if let error = error as? NIOConnectionError {
            let reasons = error.connectionErrors.map { describeSocketError($0.error) }
            if let reason = reasons.first ?? error.dnsAAAAError.map(describeSocketError) ?? error.dnsAError.map(describeSocketError) {
                return Failure("cannot connect to \(url): \(reason) (\(hint))")
            }
        }
        if "\(error)".contains("CERTIFICATE_VERIFY_FAILED") {
            return Failure("cannot verify the certificate of \(url): no CA this machine trusts signed it; trust its CA with "
                           + "--ca-bundle FILE or AWS_CA_BUNDLE (for strata serve --tls-self-signed: DATA/tls-ca.pem)")
        }
        if "\(error)".contains("WRONG_VERSION_NUMBER") {
            return Failure("\(url) does not answer in TLS (a plain http server?): try http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
        }
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return Failure("the certificate of \(url) is not for \(host)")
        }
        if error is NIOSSLError || error is NIOSSLExtraError {
            return Failure("the TLS handshake with \(url) failed (\(error))"
                           + (scheme == "https" ? "; does it serve https?" : ""))
        }
        if error is HTTPParserError {
            return Failure("\(url) did not answer in HTTP" + (scheme == "http" ? " (does it serve https? then use an https:// URL)" : ""))
        }
        if error is NIOCore.IOError || error is SocketAddressError || error is SocketAddressError.UnknownHost {
            return Failure("cannot connect to \(url): \(describeSocketError(error)) (\(hint))")
        }
        return Failure("cannot reach \(url): \(describeSocketError(error)) (\(hint))")
    }

    private func describeSocketError(_ error: Error) -> String {
        if let io = error as? NIOCore.IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ETIMEDOUT: return "the connection timed out"
            case EHOSTUNREACH, ENETUNREACH: return "no route to the host"
            default: return String(cString: strerror(io.errnoCode))
            }
        }
        if error is SocketAddressError || error is SocketAddressError.UnknownHost { return "cannot resolve the name \(host)" }
        return "\(error)"
    }

    /// A non-200 answer in plain words: the S3 error code is read, not shown.
    private func refusal(_ status: HTTPResponseStatus, document: String) -> Failure {
        let code = Self.element("Code", in: document), message = Self.element("Message", in: document)
        switch code {
        case "SignatureDoesNotMatch":
            return Failure("the server refused the credentials: the secret key does not match (check --secret-key / STRATA_SECRET_KEY)")
        case "InvalidAccessKeyId":
            return Failure("the server refused the credentials: it has no access key \(signer.accessKey) (check --access-key / STRATA_ACCESS_KEY)")
        case "AuthorizationHeaderMalformed":
            return Failure("the server expects requests signed for another region (check --region): \(message ?? "")")
        case "RequestTimeTooSkewed":
            return Failure("the server refused the request: this machine's clock and the server's differ by more than 15 minutes")
        case "AccessDenied":
            return Failure("the server refused: access key \(signer.accessKey) may not do this (use the root credentials of strata serve)")
        case "SlowDown":
            return Failure("the server is busy: \(message ?? "try again later")")
        case "ServiceUnavailable":
            return Failure("the server is not ready yet (still opening its data directory); try again shortly")
        default:
            return Failure("the server answered \(status.code) \(status.reasonPhrase)"
                           + (message.map { ": \($0)" } ?? (document.isEmpty ? "" : ": \(document.prefix(200))")))
        }
    }

    /// The text of the first `<name>` element of a small S3 error document.
    static func element(_ name: String, in document: String) -> String? {
        guard let start = document.range(of: "<\(name)>"), let end = document.range(of: "</\(name)>", range: start.upperBound..<document.endIndex)
        else { return nil }
        return String(document[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}

private extension TimeAmount {
    var seconds: Int64 { nanoseconds / 1_000_000_000 }
}
