//! From kubectl's flags to a client, the way kubectl finds its
//! configuration: `--kubeconfig FILE`, else `KUBECONFIG` (several files,
//! merged, the first to set a value wins), else `~/.kube/config`, else the
//! in-cluster service account. `--context`, `--cluster` and `--user` pick
//! from the kubeconfig; the namespace defaults to the context's.

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
    let mut config = if let Some(path) = &opts.kubeconfig {
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
    Ok(config)
}
