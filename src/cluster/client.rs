//! From kubectl's flags to a client, the way kubectl finds its
//! configuration: `--kubeconfig FILE`, else `KUBECONFIG` (several files,
//! merged, the first to set a value wins), else `~/.kube/config`, else the
//! in-cluster service account. `--context`, `--cluster` and `--user` pick
//! from the kubeconfig; the namespace defaults to the context's. kubectl's
//! overrides apply on top, as kubectl applies them: `--server`, `--token`,
//! `--certificate-authority`, `--insecure-skip-tls-verify`, and
//! impersonation (`--as`, `--as-group`). Every request says who sends it:
//! `User-Agent: tls-audit/VERSION`.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::ClusterError;

/// kubectl's connection flags.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `--cluster`.
    pub cluster: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--request-timeout`: bounds connecting and each API call that is
    /// not a stream (streams are bounded by the capture's deadline).
    pub request_timeout: Duration,
    /// `--server`: the API server's URL, instead of the cluster's.
    pub server: Option<String>,
    /// `--token`: a bearer token, instead of the user's credentials.
    pub token: Option<String>,
    /// `--certificate-authority`: a PEM file of CA certificates to trust
    /// for the API server.
    pub certificate_authority: Option<PathBuf>,
    /// `--insecure-skip-tls-verify`: do not verify the API server's
    /// certificate.
    pub insecure_skip_tls_verify: bool,
    /// `--as`: the user to impersonate.
    pub impersonate: Option<String>,
    /// `--as-group`: groups to impersonate (repeatable).
    pub impersonate_groups: Vec<String>,
}

/// The `User-Agent` of every request.
pub fn user_agent() -> String {
    format!("tls-audit/{}", env!("CARGO_PKG_VERSION"))
}

/// A client and the namespace of the chosen context.
pub struct Connected {
    /// The client.
    pub client: Client,
    /// The context's namespace (`default` when it names none).
    pub default_namespace: String,
    /// The API server's URL, for messages.
    pub server: String,
}

/// Build the client; no request is sent yet.
///
/// # Errors
///
/// [`ClusterError::Config`] when no configuration can be loaded or the
/// chosen context, cluster or user does not exist.
pub async fn connect(opts: &ConnectOptions) -> Result<Connected, ClusterError> {
    let config = load_config(opts).await?;
    let default_namespace = config.default_namespace.clone();
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))?;
    Ok(Connected {
        client,
        default_namespace,
        server,
    })
}

async fn load_config(opts: &ConnectOptions) -> Result<Config, ClusterError> {
    let picks = KubeConfigOptions {
        context: opts.context.clone(),
        cluster: opts.cluster.clone(),
        user: opts.user.clone(),
    };
    let picked = picks.context.is_some() || picks.cluster.is_some() || picks.user.is_some();
    let mut config = if let (Some(server), None) = (&opts.server, &opts.kubeconfig)
        && !picked
        && opts.token.is_some()
    {
        // `--server URL --token T` needs no kubeconfig, as with kubectl.
        Config::new(parse_server(server)?)
    } else if let Some(path) = &opts.kubeconfig {
        let kc = Kubeconfig::read_from(path)
            .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?;
        Config::from_custom_kubeconfig(kc, &picks)
            .await
            .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?
    } else {
        match Config::from_kubeconfig(&picks).await {
            Ok(c) => c,
            // No kubeconfig at all: inside a pod, use its service account,
            // as kubectl does (unless the user picked a context).
            Err(file_err) if !picked => Config::incluster().map_err(|in_cluster| {
                ClusterError::Config(format!(
                    "{file_err} (KUBECONFIG or ~/.kube/config); not in a cluster either: {in_cluster}"
                ))
            })?,
            Err(e) => return Err(ClusterError::Config(e.to_string())),
        }
    };
    config.connect_timeout = Some(opts.request_timeout);
    apply_overrides(&mut config, opts)?;
    Ok(config)
}

fn parse_server(server: &str) -> Result<http::Uri, ClusterError> {
    server
        .parse::<http::Uri>()
        .ok()
        .filter(|u| u.scheme().is_some() && u.host().is_some())
        .ok_or_else(|| {
            ClusterError::Config(format!(
                "--server {server:?} is not a URL (e.g. https://203.0.113.10:6443)"
            ))
        })
}

/// kubectl's flags over the loaded configuration.
fn apply_overrides(config: &mut Config, opts: &ConnectOptions) -> Result<(), ClusterError> {
    if let Some(server) = &opts.server {
        config.cluster_url = parse_server(server)?;
    }
    if let Some(token) = &opts.token {
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.clone().into()),
            // Impersonation still applies below; other credentials do not.
            ..kube::config::AuthInfo::default()
        };
    }
    if let Some(path) = &opts.certificate_authority {
        let pem = std::fs::read(path).map_err(|e| {
            ClusterError::Config(format!("--certificate-authority {}: {e}", path.display()))
        })?;
        let ders = pem_certificates(&pem);
        if ders.is_empty() {
            return Err(ClusterError::Config(format!(
                "--certificate-authority {}: no PEM certificate in it",
                path.display()
            )));
        }
        config.root_cert = Some(ders);
    }
    if opts.insecure_skip_tls_verify {
        if opts.certificate_authority.is_some() {
            return Err(ClusterError::Config(
                "--insecure-skip-tls-verify and --certificate-authority contradict each other: give one"
                    .into(),
            ));
        }
        config.accept_invalid_certs = true;
        config.root_cert = None;
    }
    if let Some(user) = &opts.impersonate {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !opts.impersonate_groups.is_empty() {
        if opts.impersonate.is_none() {
            return Err(ClusterError::Config(
                "--as-group needs --as (the user to impersonate), as with kubectl".into(),
            ));
        }
        config.auth_info.impersonate_groups = Some(opts.impersonate_groups.clone());
    }
    let agent = http::HeaderValue::from_str(&user_agent())
        .map_err(|e| ClusterError::Config(e.to_string()))?;
    config.headers.push((http::header::USER_AGENT, agent));
    Ok(())
}

/// The DER of each `CERTIFICATE` block of a PEM file (as the probe reads
/// its client identity); an unreadable block ends the list.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map_while(Result::ok)
        .take(256)
        .map(|c| c.as_ref().to_vec())
        .collect()
}
