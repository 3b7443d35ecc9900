//! One of several instances on one PostgreSQL database (`[store] shared = true`): the task that
//! holds this instance's shards. Every `lease / 3` it renews what it holds, reads every lease
//! and the instances alive, follows [`switchboard_core::cluster::plan()`] (take free or lapsed
//! shards up to a fair share, hand over above it), and serves the shards it holds:
//!
//! - **Taking a shard** raises its epoch. If it had an owner, a poll that owner opened may still
//!   be held at Salesforce: the shard is served only once `takeover_wait` has passed since that
//!   owner let go (its lease ran out, or it handed over). Then its rows are loaded, its
//!   conversations get their owners, its live sessions their drivers, and the pushes other
//!   instances stored for it are taken in.
//! - **Losing a shard** (a renewal that did not renew it) stops serving it at once; **not being
//!   able to renew** at all stops serving every shard before the leases can run out, measured
//!   on this process's monotonic clock from before the last renewal that worked. The database
//!   refuses the writes of an owner whose lease moved anyway (fencing).
//! - **Handing over** (above the fair share, or at shutdown) stops serving the shard first —
//!   owners, then drivers, then a flush — and then releases the lease, so the next owner takes
//!   it at once.
//! - **Nothing goes out unsure**: drivers and owners ask the gate ([`crate::gate`]) before every
//!   desk request and action; it allows a shard only while it is served and the last renewal
//!   is sure, so an instance resuming from a pause (SIGSTOP) sends nothing until its next round
//!   has found out whether the shard is still its own.
//! - **A pause after the last look** is the one gap left: a process frozen between the
//!   gate's last "yes" (in the task that sends the request, just before the HTTP client takes
//!   it) and the write of the request's bytes sends it on waking, beside the new owner's poll
//!   if its lease ran out meanwhile. The gap is the HTTP client's hand-over to its connection
//!   task (and a connection's set-up when none is idle); only a fencing token checked by the
//!   desk could close it, and Live Agent has none. Such a poll is answered `409`, counted in
//!   `switchboard_liveagent_409_total`.
//! - **Pushes** for shards held elsewhere are stored in `switchboard.pushes` by whichever
//!   instance took the webhook ([`ClusterForwarder`]); the owner is woken by `NOTIFY` (and looks
//!   again every round).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use switchboard_core::cluster::plan;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::bridge::{Bridge, ForwardedPush, Forwarder};
use crate::engine::Engine;
use crate::gate::ShardGate;
use crate::store::{PgStore, Pushes, Store, StoreError};

/// How an instance holds its shards.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// This instance's id (unique among the instances running).
    pub instance: String,
    /// How long a lease lasts unless renewed; it is renewed every third of it.
    pub lease: Duration,
    /// How long after a shard's previous owner let go its sessions may poll again here (the
    /// desk's `clientPollTimeout`: Live Agent's is 40 s).
    pub takeover_wait: Duration,
}

/// What the cluster task has done, for `/metrics`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClusterMetrics {
    /// Shards served now.
    pub shards_served: usize,
    /// Shards held (served, or waiting out the takeover wait).
    pub shards_held: usize,
    /// Renewal rounds that worked.
    pub renewals: u64,
    /// Renewal rounds that failed (the database could not be reached in time).
    pub renewal_failures: u64,
    /// Shards taken.
    pub takeovers: u64,
    /// Shards handed over.
    pub handovers: u64,
    /// Shards lost (another instance took them, or renewal failed too long).
    pub lost: u64,
    /// Pushes from other instances taken in.
    pub forwarded_in: u64,
    /// Units of work the database refused because their shard had been taken over.
    pub fenced_writes: u64,
}

impl ClusterMetrics {
    /// Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, value) in [
            (
                "switchboard_cluster_shards_served",
                "Shards this instance serves.",
                self.shards_served as u64,
            ),
            (
                "switchboard_cluster_shards_held",
                "Shards this instance holds a lease on.",
                self.shards_held as u64,
            ),
            (
                "switchboard_cluster_lease_renewals_total",
                "Lease renewal rounds that worked.",
                self.renewals,
            ),
            (
                "switchboard_cluster_lease_renewal_failures_total",
                "Lease renewal rounds that failed.",
                self.renewal_failures,
            ),
            (
                "switchboard_cluster_takeovers_total",
                "Shards taken.",
                self.takeovers,
            ),
            (
                "switchboard_cluster_handovers_total",
                "Shards handed over.",
                self.handovers,
            ),
            (
                "switchboard_cluster_shards_lost_total",
                "Shards lost to another instance or to a renewal that failed too long.",
                self.lost,
            ),
            (
                "switchboard_cluster_forwarded_pushes_total",
                "Pushes stored by other instances and taken in here.",
                self.forwarded_in,
            ),
            (
                "switchboard_cluster_fenced_writes_total",
                "Units of work refused by the database because their shard was taken over.",
                self.fenced_writes,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {}\n{name} {value}\n",
                if name.ends_with("_total") {
                    "counter"
                } else {
                    "gauge"
                }
            ));
        }
        out
    }
}

/// The shards served here, until when their leases are sure, and where other shards' pushes
/// go. It is also the process's [`ShardGate`]: nothing goes out for a shard not served, or
/// once the last renewal is no longer sure (a pause must not be followed by a poll).
#[derive(Debug)]
pub struct ClusterForwarder {
    served: Arc<RwLock<BTreeSet<u16>>>,
    sure_until: Arc<RwLock<std::time::Instant>>,
    pushes: Pushes,
}

impl ClusterForwarder {
    fn serves_now(&self, shard: u16) -> bool {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&shard)
    }

    fn sure(&self) -> bool {
        std::time::Instant::now() < *self.sure_until.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl ShardGate for ClusterForwarder {
    fn allows(&self, shard: u16) -> bool {
        // Sure-until first, the served set second: the reverse of the order in which the
        // renewer writes them (it drops the shards it did not renew, then moves sure-until on).
        // Read the other way round, a check could find the shard still served, lose the CPU
        // while the renewer drops the shard and moves sure-until on, and then find the lease
        // sure: a poll beside the new owner. Having seen the new sure-until, this read of the
        // served set comes after the renewer's write of it.
        self.sure() && self.serves_now(shard)
    }
}

#[async_trait]
impl Forwarder for ClusterForwarder {
    fn serves(&self, shard: u16) -> bool {
        self.serves_now(shard)
    }

    async fn forward(&self, push: &ForwardedPush) -> Result<bool, StoreError> {
        self.pushes.forward(push).await
    }

    fn allows(&self, shard: u16) -> bool {
        ShardGate::allows(self, shard)
    }
}

impl ClusterForwarder {
    /// The forwarder of the instance on `store`.
    pub fn new(store: &PgStore) -> ClusterForwarder {
        ClusterForwarder {
            served: Arc::new(RwLock::new(BTreeSet::new())),
            sure_until: Arc::new(RwLock::new(std::time::Instant::now())),
            pushes: store.pushes(),
        }
    }
}

/// A shard held.
#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: u64,
    /// Served from then on (the takeover wait).
    serve_at: Instant,
    served: bool,
}

/// The running cluster task.
#[derive(Debug)]
pub struct Cluster {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    ready: watch::Receiver<bool>,
    metrics: Arc<Mutex<ClusterMetrics>>,
    store: PgStore,
    instance: String,
    /// For the admin API's view of every lease (its own connection).
    view: crate::store::Leases,
}

struct Worker {
    settings: ClusterSettings,
    store: PgStore,
    leases: crate::store::Leases,
    pushes: Pushes,
    engine: Engine,
    bridge: Bridge,
    served: Arc<RwLock<BTreeSet<u16>>>,
    held: BTreeMap<u16, Held>,
    /// What [`Renewer`] renews: shard → epoch.
    epochs: Arc<Mutex<BTreeMap<u16, u64>>>,
    metrics: Arc<Mutex<ClusterMetrics>>,
}

/// Renews the leases held every third of the lease, on a connection and a task of its own, so
/// that a renewal never waits behind loading a shard or handing one over. Reports the shards
/// lost: not renewed (another instance has them), or all of them once the last renewal that
/// worked is about to be no longer sure.
struct Renewer {
    leases: crate::store::Leases,
    epochs: Arc<Mutex<BTreeMap<u16, u64>>>,
    /// Shared with the gate: until then what is held is sure.
    gate_until: Arc<RwLock<std::time::Instant>>,
    /// Shared with the gate: a shard not renewed leaves it before the gate opens again.
    served: Arc<RwLock<BTreeSet<u16>>>,
    metrics: Arc<Mutex<ClusterMetrics>>,
    lease: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Renewer {
    async fn run(
        self,
        lost: tokio::sync::mpsc::UnboundedSender<Vec<u16>>,
        mut stopping: watch::Receiver<bool>,
    ) {
        let every = self.lease / 3;
        let mut sure_until = Instant::now();
        loop {
            let pairs: Vec<(u16, u64)> = lock(&self.epochs).iter().map(|(s, e)| (*s, *e)).collect();
            match tokio::time::timeout(every, self.leases.renew(&pairs)).await {
                Ok(Ok((still, sure))) => {
                    sure_until = Instant::from_std(sure);
                    // First out of what is renewed, which is what `Worker::serve` looks at
                    // after marking a shard served...
                    let gone = forget_not_renewed(&mut lock(&self.epochs), &pairs, &still);
                    // ...then out of the gate, before the gate opens for the rest.
                    {
                        let mut served = self.served.write().unwrap_or_else(|p| p.into_inner());
                        for shard in &gone {
                            served.remove(shard);
                        }
                    }
                    // A margin for the clocks of the database and this host to drift apart.
                    *self.gate_until.write().unwrap_or_else(|p| p.into_inner()) =
                        sure - self.lease / 10;
                    lock(&self.metrics).renewals += 1;
                    if !gone.is_empty() && lost.send(gone).is_err() {
                        return;
                    }
                }
                Ok(Err(_)) | Err(_) => {
                    lock(&self.metrics).renewal_failures += 1;
                    // The next attempt might come too late: give everything up now.
                    if Instant::now() + every >= sure_until && !pairs.is_empty() {
                        warn!(
                            shards = pairs.len(),
                            "leases not renewed in time; serving nothing until they are taken again"
                        );
                        let all = pairs.iter().map(|(s, _)| *s).collect();
                        if lost.send(all).is_err() {
                            return;
                        }
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stopping.changed() => return,
            }
        }
    }
}

/// The shards of `asked` (shard, epoch) that a renewal did not keep (`still`) and that are still
/// held at that epoch: taken out of `epochs` and returned. A shard handed over or taken again at
/// a new epoch since the renewal was asked for is none of the renewal's business.
fn forget_not_renewed(
    epochs: &mut BTreeMap<u16, u64>,
    asked: &[(u16, u64)],
    still: &[u16],
) -> Vec<u16> {
    let mut gone = Vec::new();
    for (shard, epoch) in asked {
        if !still.contains(shard) && epochs.get(shard) == Some(epoch) {
            epochs.remove(shard);
            gone.push(*shard);
        }
    }
    gone
}

impl Cluster {
    /// Starts holding shards for the instance on `store`, serving them through `engine` and
    /// `bridge` (started with `forwarder`).
    pub async fn start(
        settings: ClusterSettings,
        store: PgStore,
        forwarder: &ClusterForwarder,
        engine: Engine,
        bridge: Bridge,
    ) -> Result<Cluster, StoreError> {
        let leases = store.leases(&settings.instance, settings.lease).await?;
        let renewals = store.leases(&settings.instance, settings.lease).await?;
        let view = store.leases(&settings.instance, settings.lease).await?;
        let (instance, handle) = (settings.instance.clone(), store.clone());
        let metrics = Arc::new(Mutex::new(ClusterMetrics::default()));
        let (stop, stopping) = watch::channel(false);
        let (ready_tx, ready) = watch::channel(false);
        let epochs = Arc::new(Mutex::new(BTreeMap::new()));
        let settings_lease = settings.lease;
        let worker = Worker {
            pushes: store.pushes(),
            settings,
            store,
            leases,
            engine,
            bridge,
            served: forwarder.served.clone(),
            held: BTreeMap::new(),
            epochs: epochs.clone(),
            metrics: metrics.clone(),
        };
        let renewer = Renewer {
            leases: renewals,
            epochs,
            gate_until: forwarder.sure_until.clone(),
            served: forwarder.served.clone(),
            metrics: metrics.clone(),
            lease: settings_lease,
        };
        let task = tokio::spawn(worker.run(renewer, stopping, ready_tx));
        Ok(Cluster {
            stop,
            task: Mutex::new(Some(task)),
            ready,
            metrics,
            store: handle,
            instance,
            view,
        })
    }

    /// Whether the first round is done (the instance holds its share, or there is none to
    /// hold).
    pub fn ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// What it has done.
    pub fn metrics(&self) -> ClusterMetrics {
        let mut metrics = self
            .metrics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        metrics.fenced_writes = self.store.fenced_writes();
        metrics
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Every lease as the database holds it now (which instance owns which shard).
    pub async fn leases(&self) -> Result<Vec<switchboard_core::cluster::Lease>, StoreError> {
        self.view.view().await.map(|(leases, _)| leases)
    }

    /// Hands every shard over (served ones stop first) and leaves.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Worker {
    fn metric(&self, f: impl FnOnce(&mut ClusterMetrics)) {
        f(&mut self.metrics.lock().unwrap_or_else(|p| p.into_inner()));
    }

    async fn run(
        mut self,
        renewer: Renewer,
        mut stopping: watch::Receiver<bool>,
        ready: watch::Sender<bool>,
    ) {
        let every = self.settings.lease / 3;
        let (lost_tx, mut lost) = tokio::sync::mpsc::unbounded_channel();
        let renewing = tokio::spawn(renewer.run(lost_tx, stopping.clone()));
        let mut notified = self.listen().await;
        loop {
            if *stopping.borrow() {
                break;
            }
            self.round().await;
            let _ = ready.send(true);
            let wake = tokio::time::sleep(every);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    () = &mut wake => break,
                    _ = stopping.changed() => break,
                    Some(shards) = lost.recv() => self.lose(shards).await,
                    shard = recv(&mut notified) => match shard {
                        Some(_) => self.take_pushes().await,
                        None => {
                            // The listening connection ended: listen again next round.
                            notified = None;
                        }
                    },
                }
            }
            if notified.is_none() {
                notified = self.listen().await;
            }
        }
        renewing.abort();
        self.hand_over_all().await;
    }

    /// Stops serving shards whose lease is gone or no longer sure.
    async fn lose(&mut self, shards: Vec<u16>) {
        for shard in shards {
            if !self.held.contains_key(&shard) {
                continue;
            }
            warn!(
                shard,
                "shard lost (taken over, or its lease not renewed in time)"
            );
            self.stop_serving(shard).await;
            self.held.remove(&shard);
            lock(&self.epochs).remove(&shard);
            self.metric(|m| m.lost += 1);
        }
    }

    async fn listen(
        &self,
    ) -> Option<(
        crate::store::ListenGuard,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    )> {
        match self.pushes.listen().await {
            Ok(listening) => Some(listening),
            Err(e) => {
                warn!(error = %e, "not listening for pushes; looking every round instead");
                None
            }
        }
    }

    /// Plan, act, serve (renewals run on their own, [`Renewer`]).
    async fn round(&mut self) {
        let every = self.settings.lease / 3;
        if let Ok(Ok((view, live))) = tokio::time::timeout(every, self.leases.view()).await {
            let steps = plan(&self.settings.instance, &view, &live);
            for shard in steps.release {
                self.hand_over(shard).await;
            }
            for shard in steps.acquire {
                match self.leases.acquire(shard).await {
                    Ok(Some(got)) => {
                        let wait = got.since_previous.map_or(Duration::ZERO, |since| {
                            self.settings.takeover_wait.saturating_sub(since)
                        });
                        info!(
                            shard,
                            epoch = got.epoch,
                            wait_ms = wait.as_millis() as u64,
                            "shard taken"
                        );
                        self.held.insert(
                            shard,
                            Held {
                                epoch: got.epoch,
                                serve_at: Instant::now() + wait,
                                served: false,
                            },
                        );
                        lock(&self.epochs).insert(shard, got.epoch);
                        self.metric(|m| m.takeovers += 1);
                    }
                    Ok(None) => {}
                    Err(e) => warn!(shard, error = %e, "shard not taken"),
                }
            }
        }
        let due: Vec<(u16, u64)> = self
            .held
            .iter()
            .filter(|(_, h)| !h.served && h.serve_at <= Instant::now())
            .map(|(s, h)| (*s, h.epoch))
            .collect();
        for (shard, epoch) in due {
            self.serve(shard, epoch).await;
        }
        self.take_pushes().await;
        let (served, held) = (
            self.held.values().filter(|h| h.served).count(),
            self.held.len(),
        );
        self.metric(|m| {
            m.shards_served = served;
            m.shards_held = held;
        });
    }

    async fn serve(&mut self, shard: u16, epoch: u64) {
        if let Err(e) = self.store.adopt(shard, epoch).await {
            warn!(shard, error = %e, "shard not loaded; trying again next round");
            return;
        }
        // Owners first: a push routed here before its conversation's stored owner runs would
        // start the conversation afresh. Until the shard is marked served, pushes for it are
        // stored for later (and taken in below).
        let conversations = self.bridge.adopt_shard(shard).unwrap_or_else(|e| {
            warn!(shard, error = %e, "conversations not resumed");
            0
        });
        self.served
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shard);
        // The renewer may have found this lease gone while the rows loaded (this process
        // paused or starved past it): it takes the shard out of the epochs it renews before it
        // takes it out of the served set, so either its removal comes after the insert above,
        // or the epoch is missing here and the shard leaves the served set again, its drivers
        // not started. Marked served all the same, so that the loss on its way releases the
        // owners adopted above.
        if lock(&self.epochs).get(&shard) != Some(&epoch) {
            self.served
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&shard);
            if let Some(held) = self.held.get_mut(&shard) {
                held.served = true;
            }
            warn!(shard, "lease gone while the shard loaded; not served");
            return;
        }
        let sessions = self.engine.resume_shard(shard).unwrap_or_else(|e| {
            warn!(shard, error = %e, "sessions not resumed");
            0
        });
        if let Some(held) = self.held.get_mut(&shard) {
            held.served = true;
        }
        info!(shard, conversations, sessions, "shard served");
    }

    /// Stops serving `shard` here (its lease is kept or gone; the caller decides).
    async fn stop_serving(&mut self, shard: u16) {
        self.served
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&shard);
        if self.held.get(&shard).is_some_and(|h| h.served) {
            self.bridge.release_shard(shard).await;
            self.engine.stop_shard(shard).await;
            if let Err(e) = self.store.flush().await {
                warn!(shard, error = %e, "last writes of a shard given up not flushed");
            }
        }
        self.store.forget(shard);
        if let Some(held) = self.held.get_mut(&shard) {
            held.served = false;
        }
    }

    async fn hand_over(&mut self, shard: u16) {
        self.stop_serving(shard).await;
        lock(&self.epochs).remove(&shard);
        if let Some(held) = self.held.remove(&shard) {
            match self.leases.release(shard, held.epoch).await {
                Ok(()) => {
                    info!(shard, "shard handed over");
                    self.metric(|m| m.handovers += 1);
                }
                Err(e) => warn!(shard, error = %e, "shard not handed over; it will run out"),
            }
        }
    }

    async fn hand_over_all(&mut self) {
        let shards: Vec<u16> = self.held.keys().copied().collect();
        for shard in shards {
            self.hand_over(shard).await;
        }
        if let Err(e) = self.leases.leave().await {
            warn!(error = %e, "instance row not removed; it will age out");
        }
    }

    /// Takes in the pushes other instances stored for the shards served here.
    async fn take_pushes(&mut self) {
        let served: Vec<u16> = self
            .held
            .iter()
            .filter(|(_, h)| h.served)
            .map(|(s, _)| *s)
            .collect();
        if served.is_empty() {
            return;
        }
        let stored = match self.pushes.of(&served, 500).await {
            Ok(stored) => stored,
            Err(e) => {
                warn!(error = %e, "stored pushes not read");
                return;
            }
        };
        for stored in stored {
            match self.bridge.take_forwarded(stored.push).await {
                Ok(_) => {
                    self.metric(|m| m.forwarded_in += 1);
                    if let Err(e) = self.pushes.done(stored.seq).await {
                        warn!(error = %e, "a push taken in stays stored; it will be dropped as a repeat");
                    }
                }
                Err(e) => {
                    warn!(error = %e, "a stored push not taken in; trying again");
                    return;
                }
            }
        }
    }
}

async fn recv(
    listening: &mut Option<(
        crate::store::ListenGuard,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    )>,
) -> Option<String> {
    match listening {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewal_forgets_the_shards_it_lost_only_at_the_epoch_still_held() {
        // Shard 1 renewed; 2 lost; 3 lost at epoch 5 but taken again at 6 since; 4 lost but
        // handed over since.
        let mut epochs = BTreeMap::from([(1, 5), (2, 5), (3, 6)]);
        let asked = [(1, 5), (2, 5), (3, 5), (4, 5)];
        let gone = forget_not_renewed(&mut epochs, &asked, &[1]);
        assert_eq!(gone, [2]);
        assert_eq!(epochs, BTreeMap::from([(1, 5), (3, 6)]));
    }
}
