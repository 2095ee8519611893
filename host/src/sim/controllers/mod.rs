//! The controllers behind the API: workload controllers (and the Job and CronJob controllers),
//! scheduler, kubelet (with its node lease), disruption controller, garbage collection, and the TKE
//! side's delayed node add-back, run in one loop on a dedicated thread against the store.
//!
//! A pass runs when the store changed, when a timer (image pull, grace period, add-back) is due,
//! or every couple of seconds regardless; an idle 150,000-pod cluster costs nothing.

mod affinity;
mod anti_affinity;
mod cronjobs;
mod disruption;
mod jobs;
mod kubelet;
pub mod matching;
mod node_lease;
mod pod_term;
mod preemption;
mod scheduler;
mod spread;
mod workloads;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sim::clock::Clock;
use crate::sim::resource::Res;
use crate::sim::scenario::{Faults, Timing};
use crate::sim::store::Store;
use crate::sim::tke_api::state::TkeState;

/// Real time between passes.
const TICK: Duration = Duration::from_millis(20);
/// A pass runs at least this often (real time).
const RESYNC: Duration = Duration::from_secs(10);

/// Everything the controllers need.
pub struct Controllers {
    /// The objects.
    pub store: Arc<Store>,
    /// The accelerated clock.
    pub clock: Clock,
    /// Simulated durations.
    pub timing: Timing,
    /// Faults (slow termination).
    pub faults: Faults,
    /// The cloud side (pending add-backs).
    pub tke: Arc<Mutex<TkeState>>,
    kubelet: kubelet::Kubelet,
    node_leases: node_lease::NodeLeases,
    node_cache: std::collections::HashMap<Box<str>, (u64, matching::NodeInfo)>,
    passes: u64,
}

impl Controllers {
    /// New controllers over a store.
    pub fn new(
        store: Arc<Store>,
        clock: Clock,
        timing: Timing,
        faults: Faults,
        tke: Arc<Mutex<TkeState>>,
    ) -> Self {
        Controllers {
            store,
            clock,
            timing,
            faults,
            tke,
            kubelet: kubelet::Kubelet::default(),
            node_leases: node_lease::NodeLeases::default(),
            node_cache: Default::default(),
            passes: 0,
        }
    }

    fn nodes(&mut self) -> Vec<matching::NodeInfo> {
        let nodes = self.store.list(Res::Nodes, None);
        let mut out = Vec::with_capacity(nodes.len());
        let live: HashSet<&str> = nodes.iter().map(|n| &*n.name).collect();
        self.node_cache.retain(|k, _| live.contains(&**k));
        for n in &nodes {
            match self.node_cache.get(&n.name) {
                Some((rv, info)) if *rv == n.rv => out.push(info.clone()),
                _ => {
                    let info = matching::NodeInfo::from_value(&n.value());
                    self.node_cache.insert(n.name.clone(), (n.rv, info.clone()));
                    out.push(info);
                }
            }
        }
        out
    }

    /// One pass of every controller. `booting` starts pods at once (scenario load). Returns the
    /// next simulated time at which a timer is due.
    pub fn step(&mut self, booting: bool) -> Option<Duration> {
        self.passes += 1;
        let now = self.clock.now();
        let store = self.store.clone();
        let tke_next = self
            .tke
            .lock()
            .map(|mut t| t.step(&store, now))
            .unwrap_or(None);
        self.node_leases.reconcile(&store, jiff::Timestamp::now());
        let nodes = self.nodes();
        let node_names: HashSet<String> = nodes.iter().map(|n| n.name.clone()).collect();
        let pods = store.list(Res::Pods, None);
        workloads::garbage_collect(&store, &pods, &node_names);
        workloads::deployments(&store);
        let pods = store.list(Res::Pods, None);
        let by_owner = workloads::pods_by_owner(&pods);
        workloads::replicasets(&store, &by_owner);
        workloads::statefulsets(&store, &by_owner);
        workloads::daemonsets(&store, &nodes, &by_owner);
        // Before the Job controller, so that a Job started now gets its pods in the same pass.
        let cron_next = cronjobs::cronjobs(&store, &self.clock.calendar(), now);
        jobs::jobs(&store, &by_owner);
        let pods = store.list(Res::Pods, None);
        scheduler::schedule(&store, &nodes, &pods);
        let pods = store.list(Res::Pods, None);
        let kubelet_next = self.kubelet.step(
            &store,
            &pods,
            &node_names,
            now,
            &self.timing,
            &self.faults,
            booting,
        );
        if self.passes.is_multiple_of(50) {
            self.kubelet.forget_missing(&pods);
        }
        let pods = store.list(Res::Pods, None);
        disruption::reconcile(&store, &pods);
        [tke_next, kubelet_next, cron_next]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run passes until nothing changes (bounded), starting pods at once: the scenario's
    /// initial state.
    pub fn settle_boot(&mut self) {
        for _ in 0..50 {
            let before = self.store.rv();
            self.step(true);
            if self.store.rv() == before {
                break;
            }
        }
    }

    /// Run the loop on a thread until `stop` is set.
    pub fn spawn(mut self, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("sim-controllers".into())
            .spawn(move || {
                let mut last_rv = 0;
                let mut last_tke_calls = 0;
                let mut last_pass = Instant::now();
                let mut next_due: Option<Duration> = None;
                while !stop.load(Ordering::Relaxed) {
                    let rv = self.store.rv();
                    // A TKE call (e.g. AddExistedInstances) changes TKE state, not the store: it
                    // must wake the loop too, or its timers are only noticed at the next resync.
                    let tke_calls = self.tke.lock().map_or(last_tke_calls, |t| t.actions.len());
                    let due = next_due.is_some_and(|d| self.clock.now() >= d);
                    if rv != last_rv
                        || tke_calls != last_tke_calls
                        || due
                        || last_pass.elapsed() >= RESYNC
                    {
                        last_rv = rv;
                        last_tke_calls = tke_calls;
                        last_pass = Instant::now();
                        next_due = self.step(false);
                    }
                    std::thread::sleep(TICK);
                }
            })
            .unwrap_or_else(|e| panic!("failed to spawn the controller thread: {e}"))
    }
}
