//! Resource arithmetic and human formatting of quantities.

use crate::{ExtendedResource, Resources};

/// Add `b` into `a` (saturating), merging extended resources by name.
pub fn add_resources(a: &mut Resources, b: &Resources) {
    a.cpu_millis = a.cpu_millis.saturating_add(b.cpu_millis);
    a.memory_bytes = a.memory_bytes.saturating_add(b.memory_bytes);
    a.pods = a.pods.saturating_add(b.pods);
    a.ephemeral_storage_bytes = a
        .ephemeral_storage_bytes
        .saturating_add(b.ephemeral_storage_bytes);
    for ext in &b.extended {
        match a.extended.iter_mut().find(|e| e.name == ext.name) {
            Some(e) => e.amount = e.amount.saturating_add(ext.amount),
            None => a.extended.push(ExtendedResource {
                name: ext.name.clone(),
                amount: ext.amount,
            }),
        }
    }
}

/// The amount of an extended resource, 0 when absent.
pub fn extended(resources: &Resources, name: &str) -> u64 {
    resources
        .extended
        .iter()
        .find(|e| e.name == name)
        .map_or(0, |e| e.amount)
}

/// CPU as Kubernetes writes it: `1900m`, `2`.
pub fn format_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        format!("{}", millis / 1000)
    } else {
        format!("{millis}m")
    }
}

/// Bytes in binary units with one decimal: `2.5Gi`, `512Mi`, `100Ki`, `12`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            #[allow(clippy::cast_precision_loss, reason = "one decimal for humans")]
            let value = bytes as f64 / size as f64;
            return if bytes.is_multiple_of(size) {
                format!("{}{unit}", bytes / size)
            } else {
                format!("{value:.1}{unit}")
            };
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_kubernetes() {
        assert_eq!(format_cpu(1900), "1900m");
        assert_eq!(format_cpu(2000), "2");
        assert_eq!(format_bytes(512 << 20), "512Mi");
        assert_eq!(format_bytes(2_684_354_560), "2.5Gi");
        assert_eq!(format_bytes(12), "12");
    }

    #[test]
    fn adds_extended_by_name() {
        let mut a = Resources {
            cpu_millis: 1,
            memory_bytes: 1,
            pods: 1,
            ephemeral_storage_bytes: 0,
            extended: vec![],
        };
        let b = Resources {
            extended: vec![ExtendedResource {
                name: "nvidia.com/gpu".into(),
                amount: 2,
            }],
            ..a.clone()
        };
        add_resources(&mut a, &b);
        add_resources(&mut a, &b);
        assert_eq!(a.cpu_millis, 3);
        assert_eq!(extended(&a, "nvidia.com/gpu"), 4);
    }
}
