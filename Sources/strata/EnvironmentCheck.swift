/// The `STRATA_*` environment variables `strata serve` is given, checked against the ones
/// it reads, so that a misspelt setting (`STRATA_SEGMENTSIZE`) is not silently ignored.
///
/// Known: the environment form of every setting (``Serve/settingNames``) and
/// `STRATA_CONFIG`. Not warned about either: the variables the project's own tooling sets
/// for itself (``toolingVariables``, ``toolingPrefixes``), which `strata` never reads.
enum EnvironmentCheck {
    /// Variables of the test suites, benchmarks and build: the binary under test
    /// (`STRATA_BIN`), extra server flags of the benchmark (`STRATA_ARGS`), the AWS CLI v1
    /// of the compat suite (`STRATA_AWS_V1`), its target (`STRATA_COMPAT_TARGET`) and the
    /// strict build (`STRATA_WARNINGS_AS_ERRORS`).
    static let toolingVariables: Set<String> = [
        "STRATA_BIN", "STRATA_ARGS", "STRATA_AWS_V1", "STRATA_COMPAT_TARGET", "STRATA_WARNINGS_AS_ERRORS",
    ]
    /// Prefixes kept for tooling: the power-loss tests (`STRATA_POWERLOSS_SEED`, …) and
    /// any later harness (`STRATA_TEST_`, `STRATA_BENCH_`).
    static let toolingPrefixes = ["STRATA_POWERLOSS_", "STRATA_TEST_", "STRATA_BENCH_"]

    /// One warning line per unknown `STRATA_*` variable, sorted by name.
    static func warnings(environment: [String: String], settings: Set<String>) -> [String] {
        let known = Set(settings.map(SettingSources.environmentName)).union(["STRATA_CONFIG"])
        return environment.keys.filter { $0.hasPrefix("STRATA_") }.sorted().compactMap { name in
            guard !known.contains(name), !toolingVariables.contains(name),
                  !toolingPrefixes.contains(where: { name.hasPrefix($0) }) else { return nil }
            let hint = closest(to: name, among: known).map { " (did you mean \($0)?)" } ?? ""
            return "warning: \(name) is set but is not a strata setting; it is ignored\(hint)"
        }
    }

    /// The known name `name` is most likely a misspelling of: at most two edits away
    /// (a third for long names), or the same once underscores are dropped.
    static func closest(to name: String, among known: Set<String>) -> String? {
        let squeezed = name.replacingOccurrences(of: "_", with: "")
        var best: (name: String, distance: Int)?
        for candidate in known.sorted() {
            let distance = candidate.replacingOccurrences(of: "_", with: "") == squeezed ? 0 : editDistance(name, candidate)
            if distance <= (name.count > 20 ? 3 : 2), distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
