import { useEffect, useMemo, useState } from 'preact/hooks';
import type { ConsoleWhoAmI } from '../../src/model/console.js';
import { setUnauthorizedListener, storeAuthorization } from './api.js';
import { ErrorBox, Loading } from './components/common.js';
import { SearchBox } from './components/search.js';
import { feed, type FeedNotice, type FeedStatus } from './events.js';
import { dateTime } from './format.js';
import { DashboardPage } from './pages/dashboard.js';
import { ServicesPage } from './pages/services.js';
import { ServicePage } from './pages/service.js';
import { InstancePage } from './pages/instance.js';
import { LogTailPage } from './pages/log-tail.js';
import { ClusterPage } from './pages/cluster.js';
import { ExecutorPage } from './pages/executor.js';
import { EventsPage } from './pages/events.js';
import { FleetPage } from './pages/fleet.js';
import { LoginPage } from './pages/login.js';
import { match, navigate, paths, useLocation } from './router.js';
import { SessionContext, checkLogin, resumeSession, useSession, type Session } from './session.js';

type Phase = { kind: 'checking' } | { kind: 'login' } | { kind: 'ready'; whoami: ConsoleWhoAmI } | { kind: 'failed'; error: unknown };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'checking' });

  useEffect(() => {
    setUnauthorizedListener(() => {
      storeAuthorization(undefined);
      feed.stop();
      setPhase({ kind: 'login' });
    });
    resumeSession().then(
      (result) => setPhase(result === 'login' ? { kind: 'login' } : { kind: 'ready', whoami: result }),
      (error: unknown) => setPhase({ kind: 'failed', error }),
    );
  }, []);

  // One stream per page while someone is logged in: closed on logout and when the page is left (a page the
  // browser keeps for its back button opens a new one when it is shown again).
  useEffect(() => {
    if (phase.kind !== 'ready') {
      feed.stop();
      return;
    }
    feed.start();
    const hide = () => feed.stop();
    const show = (event: PageTransitionEvent) => event.persisted && feed.start();
    window.addEventListener('pagehide', hide);
    window.addEventListener('pageshow', show);
    return () => {
      window.removeEventListener('pagehide', hide);
      window.removeEventListener('pageshow', show);
      feed.stop();
    };
  }, [phase.kind]);

  const session: Session = useMemo(
    () => ({
      whoami: phase.kind === 'ready' ? phase.whoami : undefined,
      login: async (username, password) => {
        const whoami = await checkLogin(username, password);
        setPhase({ kind: 'ready', whoami });
        if (window.location.pathname === paths.login()) navigate(paths.dashboard(), { replace: true });
      },
      logout: () => {
        storeAuthorization(undefined);
        feed.stop();
        setPhase({ kind: 'login' });
        navigate(paths.login(), { replace: true });
      },
    }),
    [phase],
  );

  return (
    <SessionContext.Provider value={session}>
      {phase.kind === 'checking' && (
        <main id="main" class="page">
          <Loading what="the console" />
        </main>
      )}
      {phase.kind === 'failed' && (
        <main id="main" class="page">
          <ErrorBox error={phase.error} title="The controller cannot be reached" />
        </main>
      )}
      {phase.kind === 'login' && <LoginPage />}
      {phase.kind === 'ready' && <Shell whoami={phase.whoami} />}
    </SessionContext.Provider>
  );
}

const NAV: Array<{ label: string; path: string; active: (path: string) => boolean }> = [
  { label: 'Dashboard', path: paths.dashboard(), active: (p) => p === '/' || p === '/dashboard' },
  { label: 'Local services', path: paths.services(), active: (p) => p.startsWith('/localservices') },
  { label: 'Fleet', path: paths.fleet(), active: (p) => p === '/fleet' },
  { label: 'Cluster', path: paths.cluster(), active: (p) => p === '/cluster' || p.startsWith('/executors') },
  { label: 'Events', path: paths.events(), active: (p) => p === '/events' },
];

function Shell({ whoami }: { whoami: ConsoleWhoAmI }) {
  const location = useLocation();
  const session = useSession();
  const [status, setStatus] = useState<{ status: FeedStatus; detail: string }>({ status: feed.status, detail: '' });
  const [notice, setNotice] = useState<FeedNotice | undefined>(undefined);
  useEffect(() => feed.subscribe({ status: (s, detail) => setStatus({ status: s, detail }), notice: setNotice }), []);
  const { installation, links } = whoami.view;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class={`top criticality-${installation.criticality.toLowerCase()}`}>
        <div class="brand">
          <a href={paths.dashboard()}>Drove</a>
          <span class="installation" title="Installation (controller config view.installation)">
            {installation.label} · {installation.criticality}
          </span>
        </div>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.path}>
                <a href={item.path} aria-current={item.active(location.path) ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <SearchBox />
        <div class="user">
          <span class={`live live-${status.status}`} role="status" title={status.detail} aria-describedby="feed-detail" data-testid="feed-status">
            {status.status === 'live' ? 'Live' : status.status === 'polling' ? 'Polling' : status.status === 'down' ? 'Offline' : 'Connecting'}
          </span>
          <span id="feed-detail" class="visually-hidden" data-testid="feed-detail">
            {status.detail}
          </span>
          <span data-testid="user-name">
            {whoami.name} <span class="muted">({whoami.role})</span>
          </span>
          {whoami.authEnabled && (
            <button type="button" onClick={() => session.logout()}>
              Log out
            </button>
          )}
        </div>
      </header>
      {notice && (
        <div class="feed-notice" role="alert" data-testid="feed-notice">
          <span>
            {notice.text} <span class="muted">({dateTime(notice.at)})</span>
          </span>
          <button type="button" onClick={() => feed.dismissNotice()}>
            Dismiss
          </button>
        </div>
      )}
      <main id="main" class="page" tabIndex={-1}>
        <Page path={location.path} query={location.query} />
      </main>
      <footer class="bottom">
        <span>drove-ts {whoami.version}</span>
        {Object.entries(links).map(([name, url]) => (
          <a key={name} href={url} rel="noopener noreferrer" target="_blank">
            {name}
          </a>
        ))}
      </footer>
    </>
  );
}

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  let params: Record<string, string> | undefined;
  if (path === '/' || path === '/dashboard') return <DashboardPage />;
  if (path === '/localservices') return <ServicesPage />;
  if ((params = match('/localservices/:serviceId', path))) return <ServicePage serviceId={params.serviceId!} />;
  if ((params = match('/localservices/:serviceId/instances/:instanceId', path))) {
    return <InstancePage serviceId={params.serviceId!} instanceId={params.instanceId!} />;
  }
  if ((params = match('/localservices/:serviceId/instances/:instanceId/stream', path))) {
    return <LogTailPage serviceId={params.serviceId!} instanceId={params.instanceId!} fileName={query.get('logFileName') ?? 'output.log'} />;
  }
  if (path === '/cluster') return <ClusterPage />;
  if ((params = match('/executors/:executorId', path))) return <ExecutorPage executorId={params.executorId!} />;
  if (path === '/events') return <EventsPage />;
  if (path === '/fleet') return <FleetPage />;
  if (path === '/login') return <DashboardPage />;
  return (
    <div>
      <h1>No such page</h1>
      <p>
        <a href={paths.dashboard()}>Back to the dashboard</a>
      </p>
    </div>
  );
}
