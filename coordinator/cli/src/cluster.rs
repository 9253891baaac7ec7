//! How commands reach a live cluster: `--target URL` (and `--source URL`) with authentication and certificate
//! flags, or a TOML file holding a whole `ClusterConfig`.
//!
//! Passwords never come from flags, where `ps` and shell history would show them: `--target-user` reads the
//! password from `FERRY_TARGET_PASSWORD` (`FERRY_SOURCE_PASSWORD` for the source).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ferry_client::{Auth, ClusterConfig, Secret, SigV4Service};

/// The flags shared by both sides, whatever their prefix.
struct Flags<'a> {
    side: &'static str,
    url: Option<&'a str>,
    config: Option<&'a Path>,
    user: Option<&'a str>,
    sigv4: Option<&'a str>,
    ca: Option<&'a Path>,
    insecure: bool,
}

impl Flags<'_> {
    /// The configuration the flags describe; `None` when no cluster was named.
    fn config(&self, password_var: &str) -> anyhow::Result<Option<ClusterConfig>> {
        let side = self.side;
        let mut config = match (self.url, self.config) {
            (None, None) => return Ok(None),
            (Some(url), None) => ClusterConfig::new(url),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --{side}-config {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("--{side}-config {}", path.display()))?
            }
            (Some(_), Some(_)) => anyhow::bail!("give either --{side} URL or --{side}-config FILE, not both"),
        };
        match (self.user, self.sigv4) {
            (Some(_), Some(_)) => anyhow::bail!("--{side}-user and --{side}-sigv4 exclude each other"),
            (Some(username), None) => {
                let password = std::env::var(password_var)
                    .with_context(|| format!("--{side}-user needs the password in the {password_var} variable"))?;
                config.auth = Auth::Basic { username: username.to_string(), password: Secret::new(password) };
            }
            (None, Some(spec)) => config.auth = parse_sigv4(spec).with_context(|| format!("--{side}-sigv4"))?,
            (None, None) => {}
        }
        if let Some(ca) = self.ca {
            config.tls.ca_file = Some(ca.to_path_buf());
        }
        config.tls.insecure |= self.insecure;
        Ok(Some(config))
    }
}

/// `REGION` or `REGION:es|aoss` (the service defaults to `es`, managed domains).
fn parse_sigv4(spec: &str) -> anyhow::Result<Auth> {
    let (region, service) = spec.split_once(':').unwrap_or((spec, "es"));
    let service = match service {
        "es" => SigV4Service::Es,
        "aoss" => SigV4Service::Aoss,
        other => anyhow::bail!("unknown SigV4 service {other:?}: use es (managed domains) or aoss (Serverless)"),
    };
    anyhow::ensure!(!region.is_empty(), "give the AWS region, e.g. eu-west-1 or eu-west-1:aoss");
    Ok(Auth::SigV4 { region: region.to_string(), service })
}

/// The target cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// The target cluster's URL (http:// or https://).
    #[arg(long, value_name = "URL", required_unless_present = "target_config")]
    pub target: Option<String>,
    /// A TOML file with the target's whole client configuration (url, auth, tls, gzip, timeouts).
    #[arg(long, value_name = "FILE")]
    pub target_config: Option<PathBuf>,
    /// Basic-auth user for the target; the password is read from FERRY_TARGET_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub target_user: Option<String>,
    /// Sign target requests with AWS SigV4: REGION or REGION:aoss (Serverless); credentials from the AWS chain.
    #[arg(long, value_name = "REGION[:SERVICE]")]
    pub target_sigv4: Option<String>,
    /// PEM CA certificate(s) to trust for an https target instead of the Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub target_ca: Option<PathBuf>,
    /// Accept any target certificate (tests and emergencies only; logged as a warning).
    #[arg(long)]
    pub target_insecure: bool,
}

impl TargetArgs {
    /// The target's client configuration.
    pub fn config(&self) -> anyhow::Result<ClusterConfig> {
        let flags = Flags {
            side: "target",
            url: self.target.as_deref(),
            config: self.target_config.as_deref(),
            user: self.target_user.as_deref(),
            sigv4: self.target_sigv4.as_deref(),
            ca: self.target_ca.as_deref(),
            insecure: self.target_insecure,
        };
        flags.config("FERRY_TARGET_PASSWORD")?.context("give the target: --target URL or --target-config FILE")
    }
}

/// A live source cluster, for commands that can read one instead of a snapshot.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LiveSourceArgs {
    /// A live source cluster's URL, instead of --repo/--snapshot.
    #[arg(long, value_name = "URL", conflicts_with_all = ["repo", "snapshot"])]
    pub source: Option<String>,
    /// A TOML file with the live source's whole client configuration, instead of --source URL.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["repo", "snapshot"])]
    pub source_config: Option<PathBuf>,
    /// Basic-auth user for the source; the password is read from FERRY_SOURCE_PASSWORD.
    #[arg(long, value_name = "USER")]
    pub source_user: Option<String>,
    /// Sign source requests with AWS SigV4: REGION or REGION:aoss.
    #[arg(long, value_name = "REGION[:SERVICE]")]
    pub source_sigv4: Option<String>,
    /// PEM CA certificate(s) to trust for an https source.
    #[arg(long, value_name = "FILE")]
    pub source_ca: Option<PathBuf>,
    /// Accept any source certificate (tests and emergencies only).
    #[arg(long)]
    pub source_insecure: bool,
}

impl LiveSourceArgs {
    /// The live source's client configuration, or `None` when no live source was named.
    pub fn config(&self) -> anyhow::Result<Option<ClusterConfig>> {
        let flags = Flags {
            side: "source",
            url: self.source.as_deref(),
            config: self.source_config.as_deref(),
            user: self.source_user.as_deref(),
            sigv4: self.source_sigv4.as_deref(),
            ca: self.source_ca.as_deref(),
            insecure: self.source_insecure,
        };
        flags.config("FERRY_SOURCE_PASSWORD")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(url: Option<&str>) -> Flags<'_> {
        Flags { side: "target", url, config: None, user: None, sigv4: None, ca: None, insecure: false }
    }

    #[test]
    fn sigv4_specs() {
        assert_eq!(
            parse_sigv4("eu-west-1").unwrap(),
            Auth::SigV4 { region: "eu-west-1".into(), service: SigV4Service::Es }
        );
        assert_eq!(
            parse_sigv4("us-east-2:aoss").unwrap(),
            Auth::SigV4 { region: "us-east-2".into(), service: SigV4Service::Aoss }
        );
        assert!(parse_sigv4("eu-west-1:s3").is_err());
        assert!(parse_sigv4(":es").is_err());
    }

    #[test]
    fn a_url_a_file_and_their_conflicts() {
        assert!(flags(None).config("UNSET").unwrap().is_none());
        let config = flags(Some("https://127.0.0.1:9200")).config("UNSET").unwrap().unwrap();
        assert_eq!(config.url, "https://127.0.0.1:9200");
        assert_eq!(config.auth, Auth::None);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("target.toml");
        std::fs::write(
            &path,
            "url = \"http://127.0.0.1:1\"\ngzip = true\n[auth]\ntype = \"sigv4\"\nregion = \"r\"\nservice = \"aoss\"\n",
        )
        .unwrap();
        let from_file = Flags { config: Some(&path), ..flags(None) }.config("UNSET").unwrap().unwrap();
        assert!(from_file.gzip);
        assert_eq!(from_file.auth, Auth::SigV4 { region: "r".into(), service: SigV4Service::Aoss });
        let both = Flags { config: Some(&path), ..flags(Some("http://x")) }.config("UNSET").unwrap_err();
        assert!(format!("{both:#}").contains("not both"), "{both:#}");
        std::fs::write(&path, "url = \"http://x\"\nbogus = 1\n").unwrap();
        let unknown = Flags { config: Some(&path), ..flags(None) }.config("UNSET").unwrap_err();
        assert!(format!("{unknown:#}").contains("bogus"), "{unknown:#}");
    }

    #[test]
    fn basic_auth_takes_the_password_from_the_environment_only() {
        let missing = Flags { user: Some("admin"), ..flags(Some("http://x")) }.config("FERRY_TEST_UNSET_PW");
        assert!(format!("{:#}", missing.unwrap_err()).contains("FERRY_TEST_UNSET_PW"));
        // PATH is always set, so it stands in for a password variable without touching the environment.
        let config = Flags { user: Some("admin"), ..flags(Some("http://x")) }.config("PATH").unwrap().unwrap();
        assert!(matches!(config.auth, Auth::Basic { ref username, .. } if username == "admin"));
        assert!(!format!("{config:?}").contains(&std::env::var("PATH").unwrap()), "the password must not show");
        let both = Flags { user: Some("a"), sigv4: Some("r"), ..flags(Some("http://x")) }.config("PATH");
        assert!(both.is_err());
    }
}
