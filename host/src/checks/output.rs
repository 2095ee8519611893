//! Vetting what a policy returns before anyone trusts it.

use crate::bindings::types::Finding;

/// Caps on a policy's output. A policy over a cap is a broken policy: its whole output is
/// discarded and replaced by a deny, rather than silently truncated into a pass.
#[derive(Debug, Clone)]
pub struct OutputLimits {
    /// Findings one policy may return.
    pub max_findings: usize,
    /// Bytes of a message or remedy.
    pub max_message_bytes: usize,
    /// Bytes of a code.
    pub max_code_bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        Self {
            max_findings: 1000,
            max_message_bytes: 4096,
            max_code_bytes: 64,
        }
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes in all)", &text[..cut], text.len())
}

/// A code is `area.rule`: lower-case ASCII letters, digits, `-` and `.`, not empty.
fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && !code.starts_with('.')
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Accept the findings, attributing them to `policy`, or say what is wrong.
pub(crate) fn vet(
    policy: &str,
    mut findings: Vec<Finding>,
    limits: &OutputLimits,
) -> Result<Vec<Finding>, String> {
    if findings.len() > limits.max_findings {
        return Err(format!(
            "{} findings, more than the cap of {}",
            findings.len(),
            limits.max_findings
        ));
    }
    for f in &mut findings {
        if f.code.len() > limits.max_code_bytes || !valid_code(&f.code) {
            return Err(format!(
                "finding code {:?} is not a stable identifier like `pdb.zero-budget`",
                clip(&f.code, limits.max_code_bytes)
            ));
        }
        for (what, text) in [("message", Some(&f.message)), ("remedy", f.remedy.as_ref())] {
            if let Some(text) = text
                && text.len() > limits.max_message_bytes
            {
                return Err(format!(
                    "the {what} of finding {} is {} bytes, more than the cap of {}",
                    f.code,
                    text.len(),
                    limits.max_message_bytes
                ));
            }
        }
        // The host, not the module, says whose finding this is.
        f.policy = policy.to_owned();
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{ObjectRef, Severity};

    fn finding(code: &str, message: &str) -> Finding {
        Finding {
            policy: "impostor".into(),
            code: code.into(),
            severity: Severity::Warn,
            message: message.into(),
            subject: ObjectRef {
                kind: "Node".into(),
                namespace: None,
                name: "n".into(),
            },
            remedy: None,
        }
    }

    #[test]
    fn attributes_findings_to_the_configured_policy() {
        let out = vet(
            "pdb",
            vec![finding("pdb.zero-budget", "x")],
            &OutputLimits::default(),
        )
        .expect("valid");
        assert_eq!(out[0].policy, "pdb");
    }

    #[test]
    fn rejects_too_many_findings() {
        let many = vec![finding("a.b", "x"); 1001];
        let err = vet("p", many, &OutputLimits::default()).expect_err("over the cap");
        assert!(err.contains("1001 findings"), "{err}");
    }

    #[test]
    fn rejects_oversized_messages_and_bad_codes() {
        let long = "x".repeat(5000);
        assert!(vet("p", vec![finding("a.b", &long)], &OutputLimits::default()).is_err());
        assert!(
            vet(
                "p",
                vec![finding("Not A Code", "x")],
                &OutputLimits::default()
            )
            .is_err()
        );
        assert!(vet("p", vec![finding("", "x")], &OutputLimits::default()).is_err());
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h... (6 bytes in all)");
    }
}
