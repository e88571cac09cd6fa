//! The data layer's side of a database on a server (`--db quack:`/`ducklake:`/`md:`): the
//! engine's [`RemoteAccess`] once the startup has made it, and the server's layout. Other
//! servers write at any time, so nothing read is kept but a complete layout (it changes
//! only by a migration, which works on files); a write finds the layout inside its own
//! transaction, preparing ours where it is missing, as on a file.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::layout::{self, Detected, Family, Layout};
use super::{Db, DbError, Sql, layout_for_write, scenarios};
use crate::engine::{ExtensionSource, RemoteAccess, RemoteDb};

/// What the server keeps of a database on a server.
#[derive(Default)]
pub(super) struct Server {
    /// What to connect to, set by the startup.
    target: OnceLock<Target>,
    /// The connection once made; until then each call tries again (the database's server
    /// may start after ours, or be restarting).
    access: Mutex<Option<RemoteAccess>>,
    /// Held while connecting: one attempt at a time.
    connecting: tokio::sync::Mutex<()>,
    /// The server's layout once found complete.
    layout: Mutex<Option<Arc<Layout>>>,
}

struct Target {
    remote: RemoteDb,
    extensions: ExtensionSource,
    timeout: Duration,
}

impl Server {
    fn known(&self) -> Option<Arc<Layout>> {
        self.layout.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Keeps `layout` once it is complete.
    fn remember(&self, layout: &Arc<Layout>) {
        if layout.complete() {
            *self.layout.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(layout));
        }
    }

    /// The layout found before, or found now (`None`: no scenario tables there yet).
    fn layout(&self, sql: &Sql<'_>) -> anyhow::Result<Option<Arc<Layout>>> {
        if let Some(layout) = self.known() {
            return Ok(Some(layout));
        }
        match layout::detect(sql)? {
            Detected::Empty => Ok(None),
            Detected::Known(layout) => {
                self.remember(&layout);
                Ok(Some(layout))
            }
            Detected::Unknown(reason) => Err(anyhow::anyhow!(reason)),
        }
    }

    /// The layout a write uses: the known one, or the one found (and prepared where
    /// missing, in this write's transaction) as on a file.
    fn layout_for_write(&self, sql: &Sql<'_>) -> anyhow::Result<Arc<Layout>> {
        match self.known() {
            Some(layout) => {
                if layout.family != Family::Ours {
                    scenarios::finish_deletions(sql, &layout)?;
                }
                Ok(layout)
            }
            None => layout_for_write(sql, None),
        }
    }
}

impl Db {
    /// For a database on a server: its access, connecting again if the startup (or the
    /// last call) could not; `None` for a file.
    pub(super) async fn remote_access(&self) -> Option<Result<RemoteAccess, DbError>> {
        let remote = self.remote.as_ref()?;
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|done| *done).await;
        if let Some(access) = remote.current() {
            return Some(Ok(access));
        }
        Some(remote.connect().await.map_err(|reason| match reason {
            None => DbError::ShuttingDown,
            Some(reason) => DbError::Other(anyhow::anyhow!("{reason}")),
        }))
    }

    /// Runs `work` on the server's committed state with its layout.
    pub(super) async fn remote_scenario_read<T, F>(&self, access: RemoteAccess, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: Fn(&Sql<'_>, Option<&Layout>) -> anyhow::Result<T> + Send + Sync + 'static,
    {
        let server = Arc::clone(self.remote.as_ref().expect("a database on a server"));
        access
            .read(move |sql| {
                let layout = server.layout(sql)?;
                work(sql, layout.as_deref())
            })
            .await
    }

    /// Runs `work` as one transaction on the server in its layout (run again whole while
    /// it loses races with other servers' writes, see `RemoteAccess::write`).
    pub(super) async fn remote_scenario_write<T, F>(&self, access: &RemoteAccess, mut work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&Sql<'_>, &Layout) -> anyhow::Result<T> + Send + 'static,
    {
        let server = Arc::clone(self.remote.as_ref().expect("a database on a server"));
        let finder = Arc::clone(&server);
        let (value, layout) = access
            .write(move |sql| {
                let layout = finder.layout_for_write(sql)?;
                Ok((work(sql, &layout)?, layout))
            })
            .await?;
        server.remember(&layout);
        Ok(value)
    }

    /// The startup for a database on a server: the local engine, then our layout prepared
    /// there if it has none (a server that cannot be reached yet: the next call connects,
    /// the first write prepares the layout).
    pub(super) async fn connect_remote(&self, remote: RemoteDb, extensions: ExtensionSource, timeout: Duration) {
        let Some(server) = self.remote.clone() else { return };
        let _ = server.target.set(Target { remote, extensions, timeout });
        let access = match server.connect().await {
            Ok(access) => access,
            Err(reason) => {
                if let Some(reason) = reason {
                    tracing::warn!("{reason}");
                }
                return;
            }
        };
        if self.check_writable().is_err() {
            return;
        }
        match self.remote_scenario_write(&access, |_, layout| Ok(layout.description.clone())).await {
            Ok(layout) => tracing::info!(server = access.uri(), layout, "serving the database"),
            Err(err) => tracing::warn!("{err}; the first write will prepare the layout"),
        }
    }
}

impl Server {
    fn current(&self) -> Option<RemoteAccess> {
        self.access.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Connects (the local engine, the extensions, the attach), one attempt at a time and
    /// bounded by the write timeout; `Err(None)` before the startup set the target.
    async fn connect(&self) -> Result<RemoteAccess, Option<String>> {
        let _one = self.connecting.lock().await;
        if let Some(access) = self.current() {
            return Ok(access);
        }
        let target = self.target.get().ok_or(None)?;
        let (remote, extensions, timeout) = (target.remote.clone(), target.extensions.clone(), target.timeout);
        let uri = remote.shown();
        let connecting = tokio::task::spawn_blocking(move || RemoteAccess::connect(&remote, &extensions, timeout));
        // Bounded: an unreachable service must not hold every call for the network's timeouts.
        let access = match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok(Ok(access))) => access,
            Ok(Ok(Err(err))) => return Err(Some(format!("{err:#}"))),
            Ok(Err(err)) => return Err(Some(format!("cannot start the local engine: {err}"))),
            Err(_) => {
                return Err(Some(format!(
                    "cannot reach --db {uri} within the write timeout ({} ms): check the network, or raise --write-timeout-ms",
                    timeout.as_millis()
                )));
            }
        };
        *self.access.lock().unwrap_or_else(|e| e.into_inner()) = Some(access.clone());
        Ok(access)
    }
}
