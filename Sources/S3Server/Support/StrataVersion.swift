/// Strata's version: `strata --version`, the start-up banner, the health answers and the
/// `strata_build_info` metric. Raised with each entry of CHANGELOG.md.
public enum StrataVersion {
    public static let current = "0.12.0-dev"
}
