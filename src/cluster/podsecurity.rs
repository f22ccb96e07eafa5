//! Pod Security admission, read before touching a pod: the agent needs
//! `NET_RAW`, which the Pod Security Standards' `baseline` and `restricted`
//! levels forbid, so in a namespace that *enforces* either, an ephemeral
//! container is refused (403 Forbidden, `violates PodSecurity`). The
//! namespace's labels say so in advance; such namespaces are audited
//! through the node agents (their own namespace, labelled `privileged`)
//! instead of relabelling the workload's namespace.
//!
//! The labels and their meaning are those of the Kubernetes documentation,
//! "Enforce Pod Security Standards with namespace labels"; a level value
//! the admission plugin cannot parse is evaluated as `restricted`.

use std::collections::BTreeMap;

/// `pod-security.kubernetes.io/enforce`.
pub const ENFORCE: &str = "pod-security.kubernetes.io/enforce";
/// `pod-security.kubernetes.io/warn`.
pub const WARN: &str = "pod-security.kubernetes.io/warn";

/// What a namespace's labels say about the agent's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// No enforce label, or `privileged`: admitted (a cluster-wide default
    /// set in the admission configuration is not visible here).
    Admitted,
    /// `enforce` is this level (`baseline`, `restricted`, or a value the
    /// admission plugin evaluates as `restricted`): refused.
    Refused(String),
}

/// Judge a namespace by its labels.
pub fn judge(labels: &BTreeMap<String, String>) -> Admission {
    match labels.get(ENFORCE).map(|l| l.trim()) {
        None | Some("privileged") => Admission::Admitted,
        Some(level) => Admission::Refused(crate::report::sanitize(
            &level.chars().take(64).collect::<String>(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn baseline_restricted_and_unknown_levels_refuse_the_agent() {
        assert_eq!(judge(&labels(&[])), Admission::Admitted);
        assert_eq!(
            judge(&labels(&[(ENFORCE, "privileged")])),
            Admission::Admitted
        );
        assert_eq!(
            judge(&labels(&[(WARN, "restricted")])),
            Admission::Admitted,
            "warn only warns"
        );
        assert_eq!(
            judge(&labels(&[(ENFORCE, "baseline")])),
            Admission::Refused("baseline".into())
        );
        assert_eq!(
            judge(&labels(&[(ENFORCE, "restricted")])),
            Admission::Refused("restricted".into())
        );
        assert_eq!(
            judge(&labels(&[(ENFORCE, "strict")])),
            Admission::Refused("strict".into())
        );
    }
}
