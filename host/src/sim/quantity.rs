//! Kubernetes resource quantities ("100m", "1.5", "2Gi", "1e3") and pod resource requests.
//!
//! Only what the scheduler and the generator need: parsing to integers (milli-units for CPU,
//! plain units for everything else). Formatting quantities back is not needed.

use std::collections::BTreeMap;

use serde_json::Value;

/// Parse a quantity into its value scaled by `scale` (1000 for milli-CPU, 1 for bytes), rounding
/// up as Kubernetes does. `None` when the string is not a quantity.
pub fn parse_scaled(s: &str, scale: f64) -> Option<i64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let mult: f64 = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse::<i32>().ok()?),
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    Some((n * mult * scale).ceil() as i64)
}

/// Parse a quantity given as a JSON string or number.
pub fn parse_value(v: &Value, scale: f64) -> Option<i64> {
    match v {
        Value::String(s) => parse_scaled(s, scale),
        Value::Number(n) => n.as_f64().map(|f| (f * scale).ceil() as i64),
        _ => None,
    }
}

/// Amounts of schedulable resources: milli-CPU, memory bytes, pod slots and extended resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Milli-CPU.
    pub cpu_m: i64,
    /// Bytes.
    pub memory: i64,
    /// Pod slots (a pod counts 1; a node's allocatable `pods`).
    pub pods: i64,
    /// Extended resources such as `nvidia.com/gpu`, by name; ephemeral-storage also lands here.
    pub extended: BTreeMap<Box<str>, i64>,
}

impl Resources {
    /// Read a `{cpu, memory, pods, <other>}` resource list (requests, allocatable).
    pub fn from_list(list: Option<&Value>) -> Self {
        let mut r = Resources::default();
        let Some(Value::Object(map)) = list else {
            return r;
        };
        for (k, v) in map {
            match k.as_str() {
                "cpu" => r.cpu_m = parse_value(v, 1000.0).unwrap_or(0),
                "memory" => r.memory = parse_value(v, 1.0).unwrap_or(0),
                "pods" => r.pods = parse_value(v, 1.0).unwrap_or(0),
                other => {
                    r.extended
                        .insert(other.into(), parse_value(v, 1.0).unwrap_or(0));
                }
            }
        }
        r
    }

    /// A pod's effective requests: the sum over its containers, raised to the largest init
    /// container request, and one pod slot (what the scheduler's NodeResourcesFit counts).
    pub fn of_pod_spec(spec: Option<&Value>) -> Self {
        let mut total = Resources {
            pods: 1,
            ..Default::default()
        };
        let Some(spec) = spec else { return total };
        let requests = |c: &Value| Resources::from_list(c.pointer("/resources/requests"));
        if let Some(Value::Array(cs)) = spec.get("containers") {
            for c in cs {
                total.add(&requests(c));
            }
        }
        if let Some(Value::Array(cs)) = spec.get("initContainers") {
            for c in cs {
                let r = requests(c);
                total.cpu_m = total.cpu_m.max(r.cpu_m);
                total.memory = total.memory.max(r.memory);
                for (k, v) in r.extended {
                    let e = total.extended.entry(k).or_insert(0);
                    *e = (*e).max(v);
                }
            }
        }
        total
    }

    /// Add `other` into `self`.
    pub fn add(&mut self, other: &Resources) {
        self.cpu_m += other.cpu_m;
        self.memory += other.memory;
        self.pods += other.pods;
        for (k, v) in &other.extended {
            *self.extended.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Take `other` out of `self` (a pod leaving a node).
    pub fn sub(&mut self, other: &Resources) {
        self.cpu_m -= other.cpu_m;
        self.memory -= other.memory;
        self.pods -= other.pods;
        for (k, v) in &other.extended {
            *self.extended.entry(k.clone()).or_insert(0) -= v;
        }
    }

    /// The resource names for which `self + req` would exceed `allocatable`, as the scheduler
    /// reports them ("cpu", "memory", "pods", extended names).
    pub fn insufficient(&self, req: &Resources, allocatable: &Resources) -> Vec<String> {
        let mut out = Vec::new();
        if self.pods + req.pods > allocatable.pods {
            out.push("pods".to_owned());
        }
        if req.cpu_m > 0 && self.cpu_m + req.cpu_m > allocatable.cpu_m {
            out.push("cpu".to_owned());
        }
        if req.memory > 0 && self.memory + req.memory > allocatable.memory {
            out.push("memory".to_owned());
        }
        for (k, v) in &req.extended {
            if *v > 0 {
                let used = self.extended.get(k).copied().unwrap_or(0);
                let cap = allocatable.extended.get(k).copied().unwrap_or(0);
                if used + v > cap {
                    out.push(k.to_string());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_like_kubernetes() {
        assert_eq!(parse_scaled("100m", 1000.0), Some(100));
        assert_eq!(parse_scaled("1.5", 1000.0), Some(1500));
        assert_eq!(parse_scaled("2", 1000.0), Some(2000));
        assert_eq!(parse_scaled("2607596Ki", 1.0), Some(2607596 * 1024));
        assert_eq!(parse_scaled("1G", 1.0), Some(1_000_000_000));
        assert_eq!(parse_scaled("1e3", 1.0), Some(1000));
        assert_eq!(parse_scaled("abc", 1.0), None);
    }

    #[test]
    fn pod_requests_sum_containers_and_take_max_init() {
        let spec = json!({
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"resources": {"requests": {"cpu": "200m", "nvidia.com/gpu": "1"}}}
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1"}}}]
        });
        let r = Resources::of_pod_spec(Some(&spec));
        assert_eq!(r.cpu_m, 1000);
        assert_eq!(r.memory, 64 * 1024 * 1024);
        assert_eq!(r.pods, 1);
        assert_eq!(r.extended.get("nvidia.com/gpu"), Some(&1));
        let alloc = Resources::from_list(Some(
            &json!({"cpu": "1900m", "memory": "1Gi", "pods": "61"}),
        ));
        let used = Resources {
            cpu_m: 1000,
            ..Default::default()
        };
        assert_eq!(used.insufficient(&r, &alloc), vec!["cpu", "nvidia.com/gpu"]);
    }
}
