//! The user script that keeps a data disk's content across TKE's reinstall.
//!
//! TKE formats a data disk it mounts unless the file system is ext3/ext4/xfs, and its reinstall
//! leaves the container runtime's images on the system disk. TKE's own guide for keeping a disk
//! (container images under `/data`, say) is: do not let TKE mount the disk; mount it from a user
//! script that stops kubelet and the runtime, adds the fstab line, mounts, points the runtime's
//! root at the disk and starts both again, with the node added cordoned so that nothing lands on
//! it before the script ran. This module writes that script.
//!
//! The script is plain POSIX sh, never formats anything, and is safe to re-run (TKE runs the user
//! script on every reinstall): each edit checks first. If the disk cannot be mounted it leaves
//! kubelet stopped, so the node never turns Ready and the run stops at `wait-ready` instead of
//! scheduling pods onto a node whose data is missing.
//!
//! The paths come from validated settings (absolute, only `A-Za-z0-9/._-`), so they need no
//! quoting beyond the single quotes used anyway.

use crate::settings::KeepDataDisk;

/// The cluster's container runtime, as `DescribeClusters` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// containerd: root in `/etc/containerd/config.toml`.
    Containerd,
    /// Docker: `data-root` in `/etc/docker/daemon.json`.
    Docker,
}

impl Runtime {
    /// Parse the captured `container-runtime`.
    pub fn parse(s: &str) -> Option<Runtime> {
        match s.trim().to_ascii_lowercase().as_str() {
            "containerd" => Some(Runtime::Containerd),
            "docker" => Some(Runtime::Docker),
            _ => None,
        }
    }

    /// The systemd unit and the directory name under the mount target.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::Docker => "docker",
        }
    }
}

/// The heredoc delimiter for an appended script; lengthened until no line of it collides.
fn delimiter_for(previous: &str) -> String {
    let mut delimiter = String::from("TKE_RECYCLE_PREVIOUS_USER_SCRIPT");
    while previous.lines().any(|line| line == delimiter) {
        delimiter.push('_');
    }
    delimiter
}

/// The whole script: keep `disk` for `runtime`, then run the node's `previous` user script (the
/// one captured from TKE, decoded), if any, with its own interpreter.
pub fn keep_data_disk_script(
    disk: &KeepDataDisk,
    runtime: Runtime,
    previous: Option<&str>,
) -> String {
    let device = &disk.device;
    let target = &disk.mount_target;
    let unit = runtime.name();
    let root = format!("{target}/{}", runtime.name());
    let mut s = String::new();
    s.push_str(&format!(
        "#!/bin/sh
# Written by tke-recycle: keep the data disk {device} at {target} across the reinstall and put the
# {unit} root on it. Never formats the disk. Safe to run again: every step checks first.
set -u
DEVICE='{device}'
TARGET='{target}'
RUNTIME_ROOT='{root}'

say() {{
  echo \"tke-recycle: $*\"
  logger -t tke-recycle \"$*\" 2>/dev/null || true
}}

systemctl stop kubelet || true
systemctl stop {unit} || true

mkdir -p \"$TARGET\"
if ! awk -v d=\"$DEVICE\" -v t=\"$TARGET\" '$1 == d && $2 == t {{ found = 1 }} END {{ exit !found }}' /etc/fstab 2>/dev/null; then
  echo \"$DEVICE $TARGET auto defaults,nofail 0 2\" >> /etc/fstab
  say \"added $DEVICE at $TARGET to /etc/fstab\"
fi
if ! mountpoint -q \"$TARGET\"; then
  if ! mount \"$TARGET\"; then
    say \"cannot mount $DEVICE at $TARGET; kubelet stays stopped so the node does not turn Ready without its data\"
    exit 1
  fi
  say \"mounted $DEVICE at $TARGET\"
fi
mkdir -p \"$RUNTIME_ROOT\"
"
    ));
    match runtime {
        Runtime::Containerd => s.push_str(
            "
CONF=/etc/containerd/config.toml
mkdir -p /etc/containerd
if [ ! -s \"$CONF\" ]; then
  printf 'root = \"%s\"\\n' \"$RUNTIME_ROOT\" > \"$CONF\"
elif grep -q '^root[[:space:]]*=' \"$CONF\"; then
  sed \"s|^root[[:space:]]*=.*|root = \\\"$RUNTIME_ROOT\\\"|\" \"$CONF\" > \"$CONF.tke-recycle\" && mv \"$CONF.tke-recycle\" \"$CONF\"
else
  { printf 'root = \"%s\"\\n' \"$RUNTIME_ROOT\"; cat \"$CONF\"; } > \"$CONF.tke-recycle\" && mv \"$CONF.tke-recycle\" \"$CONF\"
fi
say \"containerd root is $RUNTIME_ROOT\"
",
        ),
        Runtime::Docker => s.push_str(
            "
CONF=/etc/docker/daemon.json
mkdir -p /etc/docker
if [ ! -s \"$CONF\" ] || [ \"$(tr -d ' \\t\\r\\n' < \"$CONF\")\" = '{}' ]; then
  printf '{\\n  \"data-root\": \"%s\"\\n}\\n' \"$RUNTIME_ROOT\" > \"$CONF\"
elif grep -q '\"data-root\"' \"$CONF\"; then
  sed \"s|\\\"data-root\\\"[[:space:]]*:[[:space:]]*\\\"[^\\\"]*\\\"|\\\"data-root\\\": \\\"$RUNTIME_ROOT\\\"|\" \"$CONF\" > \"$CONF.tke-recycle\" && mv \"$CONF.tke-recycle\" \"$CONF\"
elif grep -q '\"graph\"' \"$CONF\"; then
  sed \"s|\\\"graph\\\"[[:space:]]*:[[:space:]]*\\\"[^\\\"]*\\\"|\\\"data-root\\\": \\\"$RUNTIME_ROOT\\\"|\" \"$CONF\" > \"$CONF.tke-recycle\" && mv \"$CONF.tke-recycle\" \"$CONF\"
else
  awk -v root=\"$RUNTIME_ROOT\" '!done && sub(/\\{/, \"{\\\"data-root\\\": \\\"\" root \"\\\",\") { done = 1 } { print }' \"$CONF\" > \"$CONF.tke-recycle\" && mv \"$CONF.tke-recycle\" \"$CONF\"
fi
say \"docker data-root is $RUNTIME_ROOT\"
",
        ),
    }
    s.push_str(&format!(
        "
systemctl start {unit}
systemctl start kubelet
say \"kept {device} at {target}\"
"
    ));
    if let Some(previous) = previous.filter(|p| !p.trim().is_empty()) {
        let delimiter = delimiter_for(previous);
        let mut body = previous.to_owned();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let run = if previous.starts_with("#!") {
            "chmod 700 \"$PREVIOUS\" && \"$PREVIOUS\""
        } else {
            "sh \"$PREVIOUS\""
        };
        s.push_str(&format!(
            "
# The node's own user script, as TKE had it before the recycle.
PREVIOUS=/tmp/tke-recycle-previous-user-script
cat > \"$PREVIOUS\" <<'{delimiter}'
{body}{delimiter}
{run}
exit $?
"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn disk() -> KeepDataDisk {
        KeepDataDisk {
            device: "/dev/vdb".into(),
            mount_target: "/data".into(),
        }
    }

    #[rstest]
    #[case::containerd(Runtime::Containerd)]
    #[case::docker(Runtime::Docker)]
    fn the_script_never_formats(#[case] runtime: Runtime) {
        let script = keep_data_disk_script(&disk(), runtime, Some("echo hi"));
        assert!(!script.contains("mkfs"), "{script}");
        assert!(!script.contains("mke2fs"), "{script}");
        assert!(!script.contains("wipefs"), "{script}");
    }

    #[rstest]
    #[case::containerd(Runtime::Containerd)]
    #[case::docker(Runtime::Docker)]
    fn the_script_adds_a_nofail_fstab_line_only_when_missing(#[case] runtime: Runtime) {
        let script = keep_data_disk_script(&disk(), runtime, None);
        assert!(script.contains("DEVICE='/dev/vdb'"), "{script}");
        assert!(script.contains("TARGET='/data'"), "{script}");
        assert!(
            script.contains("echo \"$DEVICE $TARGET auto defaults,nofail 0 2\" >> /etc/fstab"),
            "{script}"
        );
        assert!(
            script.contains("if ! awk"),
            "the fstab line is guarded: {script}"
        );
        assert!(
            script.contains("if ! mountpoint -q \"$TARGET\""),
            "{script}"
        );
    }

    #[test]
    fn containerd_root_goes_to_the_disk() {
        let script = keep_data_disk_script(&disk(), Runtime::Containerd, None);
        assert!(
            script.contains("RUNTIME_ROOT='/data/containerd'"),
            "{script}"
        );
        assert!(script.contains("/etc/containerd/config.toml"), "{script}");
        assert!(script.contains("root = \\\"$RUNTIME_ROOT\\\""), "{script}");
        assert!(script.contains("systemctl stop containerd"), "{script}");
        assert!(script.contains("systemctl start containerd"), "{script}");
        assert!(!script.contains("docker"), "{script}");
    }

    #[test]
    fn docker_data_root_goes_to_the_disk() {
        let script = keep_data_disk_script(&disk(), Runtime::Docker, None);
        assert!(script.contains("RUNTIME_ROOT='/data/docker'"), "{script}");
        assert!(script.contains("/etc/docker/daemon.json"), "{script}");
        assert!(
            script.contains("\\\"data-root\\\": \\\"$RUNTIME_ROOT\\\""),
            "{script}"
        );
        assert!(script.contains("systemctl stop docker"), "{script}");
        assert!(script.contains("systemctl start docker"), "{script}");
        assert!(!script.contains("containerd"), "{script}");
    }

    #[test]
    fn kubelet_is_stopped_before_and_started_after_the_runtime() {
        let script = keep_data_disk_script(&disk(), Runtime::Containerd, None);
        let pos = |needle: &str| script.find(needle).unwrap_or(usize::MAX);
        assert!(pos("systemctl stop kubelet") < pos("systemctl stop containerd"));
        assert!(pos("systemctl stop containerd") < pos("mount \"$TARGET\""));
        assert!(pos("mount \"$TARGET\"") < pos("systemctl start containerd"));
        assert!(pos("systemctl start containerd") < pos("systemctl start kubelet"));
    }

    #[test]
    fn the_previous_user_script_runs_after_ours() {
        let script = keep_data_disk_script(
            &disk(),
            Runtime::Containerd,
            Some("#!/bin/bash\necho previous"),
        );
        let ours = script.find("systemctl start kubelet").unwrap_or(usize::MAX);
        let theirs = script.find("echo previous").unwrap_or(0);
        assert!(ours < theirs, "{script}");
        assert!(script.contains("<<'TKE_RECYCLE_PREVIOUS_USER_SCRIPT'\n#!/bin/bash\necho previous\nTKE_RECYCLE_PREVIOUS_USER_SCRIPT\n"), "{script}");
    }

    #[test]
    fn a_previous_script_containing_the_delimiter_gets_a_longer_one() {
        let previous = "echo a\nTKE_RECYCLE_PREVIOUS_USER_SCRIPT\necho b";
        let script = keep_data_disk_script(&disk(), Runtime::Docker, Some(previous));
        assert!(
            script.contains("<<'TKE_RECYCLE_PREVIOUS_USER_SCRIPT_'"),
            "{script}"
        );
    }

    #[test]
    fn runtime_names_parse() {
        assert_eq!(Runtime::parse("containerd"), Some(Runtime::Containerd));
        assert_eq!(Runtime::parse("Docker"), Some(Runtime::Docker));
        assert_eq!(Runtime::parse("cri-o"), None);
    }

    /// Run the script's containerd/docker edits under a real `sh` against scratch files, when a
    /// POSIX shell is available (it is on the CI and dev machines; skipped otherwise).
    #[test]
    fn the_runtime_edits_are_idempotent_under_sh() {
        use std::process::Command;
        if Command::new("sh").arg("-c").arg("true").status().is_err() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("tke-recycle-script-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let edit = |runtime: Runtime, conf: &str, initial: &str| -> String {
            let path = dir.join(conf);
            std::fs::write(&path, initial).expect("write scratch config");
            let script = keep_data_disk_script(&disk(), runtime, None);
            let start = script.find("\nCONF=").expect("config edit");
            let end = script[start..]
                .find("say \"")
                .map(|e| start + e)
                .expect("end");
            let snippet = script[start..end].replace(
                match runtime {
                    Runtime::Containerd => {
                        "CONF=/etc/containerd/config.toml\nmkdir -p /etc/containerd"
                    }
                    Runtime::Docker => "CONF=/etc/docker/daemon.json\nmkdir -p /etc/docker",
                },
                &format!("CONF='{}'", path.display()),
            );
            for _ in 0..2 {
                let status = Command::new("sh")
                    .arg("-c")
                    .arg(format!(
                        "RUNTIME_ROOT='/data/{}'\n{snippet}",
                        runtime.name()
                    ))
                    .status()
                    .expect("run sh");
                assert!(status.success());
            }
            std::fs::read_to_string(&path).expect("read back")
        };
        assert_eq!(
            edit(
                Runtime::Containerd,
                "a.toml",
                "version = 2\nroot = \"/var/lib/containerd\"\n[plugins]\n  runtime_root = \"\"\n"
            ),
            "version = 2\nroot = \"/data/containerd\"\n[plugins]\n  runtime_root = \"\"\n"
        );
        assert_eq!(
            edit(Runtime::Containerd, "b.toml", "version = 2\n[plugins]\n"),
            "root = \"/data/containerd\"\nversion = 2\n[plugins]\n"
        );
        assert_eq!(
            edit(
                Runtime::Docker,
                "a.json",
                "{\n  \"data-root\": \"/var/lib/docker\",\n  \"log-driver\": \"json-file\"\n}\n"
            ),
            "{\n  \"data-root\": \"/data/docker\",\n  \"log-driver\": \"json-file\"\n}\n"
        );
        assert_eq!(
            edit(Runtime::Docker, "b.json", "{ }\n"),
            "{\n  \"data-root\": \"/data/docker\"\n}\n"
        );
        assert_eq!(
            edit(
                Runtime::Docker,
                "c.json",
                "{\"graph\": \"/var/lib/docker\", \"debug\": true}\n"
            ),
            "{\"data-root\": \"/data/docker\", \"debug\": true}\n"
        );
        assert_eq!(
            edit(Runtime::Docker, "d.json", "{\"debug\": true}\n"),
            "{\"data-root\": \"/data/docker\",\"debug\": true}\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
