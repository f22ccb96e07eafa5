//! Ask the API server, before touching anything, whether this user may do
//! what the audit needs (SelfSubjectAccessReview, as `kubectl auth can-i`
//! does), so a missing permission is one line naming the verb and the
//! resource, with the RBAC to grant, rather than a 403 halfway through.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

use super::{ClusterError, timed};

/// One permission the audit needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// `get`, `list`, `patch`...
    pub verb: &'static str,
    /// `pods`, `nodes`...
    pub resource: &'static str,
    /// `ephemeralcontainers`, `log`, or none.
    pub subresource: Option<&'static str>,
    /// The namespace; `None` for all namespaces (or a cluster-scoped resource).
    pub namespace: Option<String>,
}

impl Need {
    /// `pods/ephemeralcontainers`.
    pub fn resource_path(&self) -> String {
        match self.subresource {
            Some(s) => format!("{}/{s}", self.resource),
            None => self.resource.to_string(),
        }
    }
}

/// What an audit of pods in `namespace` (`None`: all namespaces) through
/// ephemeral containers needs.
pub fn ephemeral_needs(namespace: Option<&str>) -> Vec<Need> {
    let ns = namespace.map(str::to_string);
    vec![
        Need {
            verb: "list",
            resource: "pods",
            subresource: None,
            namespace: ns.clone(),
        },
        Need {
            verb: "patch",
            resource: "pods",
            subresource: Some("ephemeralcontainers"),
            namespace: ns.clone(),
        },
        Need {
            verb: "get",
            resource: "pods",
            subresource: Some("log"),
            namespace: ns,
        },
    ]
}

/// What reading the namespaces' Pod Security labels needs (`--via auto`):
/// `get namespaces`, in the namespace itself (a RoleBinding there grants
/// it: the API server files a namespace's own object under its name).
pub fn namespace_needs(namespace: Option<&str>) -> Vec<Need> {
    vec![Need {
        verb: "get",
        resource: "namespaces",
        subresource: None,
        namespace: namespace.map(str::to_string),
    }]
}

/// What probing the pods' ports without an agent needs (`--active-only`):
/// listing the pods only.
pub fn probe_only_needs(namespace: Option<&str>) -> Vec<Need> {
    vec![Need {
        verb: "list",
        resource: "pods",
        subresource: None,
        namespace: namespace.map(str::to_string),
    }]
}

/// What the node-agent route needs: the selected pods, and the agents'
/// pods and logs in their namespace.
pub fn node_agent_needs(namespace: Option<&str>, agents_namespace: &str) -> Vec<Need> {
    let agents = Some(agents_namespace.to_string());
    vec![
        Need {
            verb: "list",
            resource: "pods",
            subresource: None,
            namespace: namespace.map(str::to_string),
        },
        Need {
            verb: "list",
            resource: "pods",
            subresource: None,
            namespace: agents.clone(),
        },
        Need {
            verb: "get",
            resource: "pods",
            subresource: Some("log"),
            namespace: agents,
        },
    ]
}

/// The review asking whether this user may do `need` (a plain value: the
/// request body).
pub fn review(need: &Need) -> SelfSubjectAccessReview {
    SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(String::new()),
                namespace: need.namespace.clone(),
                resource: Some(need.resource.to_string()),
                subresource: need.subresource.map(str::to_string),
                verb: Some(need.verb.to_string()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    }
}

/// Check every need, in order; the first one denied is the error.
///
/// # Errors
///
/// [`ClusterError::Denied`] naming the verb and resource; API errors as
/// they come (a server without the authorization API answers 404).
pub async fn check(client: &Client, needs: &[Need], timeout: Duration) -> Result<(), ClusterError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    for need in needs {
        let answer = timed(
            timeout,
            "waiting for a SelfSubjectAccessReview",
            api.create(&PostParams::default(), &review(need)),
        )
        .await?;
        let allowed = answer.status.as_ref().is_some_and(|s| s.allowed);
        if !allowed {
            return Err(ClusterError::Denied {
                verb: need.verb.to_string(),
                resource: need.resource_path(),
                namespace: need.namespace.clone(),
            });
        }
    }
    Ok(())
}
