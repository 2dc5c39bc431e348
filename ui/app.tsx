// The console's shell: header, navigation, the page for the hash route. The login view replaces
// everything while there is no session.
import { useEffect, useState } from 'preact/hooks';
import { loadSession, logout, setUnauthorizedHandler, get, type Session } from './api';
import { messageOf } from './hooks';
import { href, useLocation, type Page } from './router';
import { Login } from './login';
import type { Overview } from './types';
import { OverviewPage } from './pages/overview';
import { RoutesPage } from './pages/routes';
import { ServicesPage } from './pages/services';
import { ConsumersPage } from './pages/consumers';
import { ConfigPage } from './pages/config';
import { ClusterPage } from './pages/cluster';

const TITLES: Record<Page, string> = {
  overview: 'Overview',
  routes: 'Routes',
  services: 'Services',
  consumers: 'Consumers',
  config: 'Config',
  cluster: 'Cluster',
};

type State =
  { kind: 'loading' } | { kind: 'login'; reason?: string } | { kind: 'in'; session: Session } | { kind: 'failed'; error: string };

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [hasStore, setHasStore] = useState(false);
  useEffect(() => {
    setUnauthorizedHandler(() => setState({ kind: 'login', reason: 'Your session ended; sign in again.' }));
    loadSession().then(
      (s) => setState(s ? { kind: 'in', session: s } : { kind: 'login' }),
      (err: unknown) => setState({ kind: 'failed', error: messageOf(err) }),
    );
  }, []);
  useEffect(() => {
    if (state.kind !== 'in') return;
    // The Cluster page and the config history exist only where the config store does.
    get<Overview>('/overview').then(
      (o) => setHasStore(o.configStore.present),
      () => setHasStore(false),
    );
  }, [state.kind]);
  if (state.kind === 'loading') return <p class="boot">Loading the Gatehouse console…</p>;
  if (state.kind === 'failed')
    return (
      <main class="login" id="main">
        <div class="note note-error" role="alert">
          The admin API could not be reached: {state.error}
        </div>
      </main>
    );
  if (state.kind === 'login') return <Login reason={state.reason} onLogin={(s) => setState({ kind: 'in', session: s })} />;
  return (
    <Shell
      session={state.session}
      hasStore={hasStore}
      onLogout={() => {
        void logout().finally(() => setState({ kind: 'login', reason: 'Signed out.' }));
      }}
    />
  );
}

function Shell({ session, hasStore, onLogout }: { session: Session; hasStore: boolean; onLogout: () => void }) {
  const loc = useLocation();
  const pages = (Object.keys(TITLES) as Page[]).filter((p) => p !== 'cluster' || hasStore);
  useEffect(() => {
    document.title = `${TITLES[loc.page]} · Gatehouse console`;
  }, [loc.page]);
  return (
    <>
      <a class="skip" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('overview')}>
          Gatehouse
        </a>
        <nav aria-label="Console pages">
          <ul>
            {pages.map((p) => (
              <li key={p}>
                <a href={href(p)} aria-current={loc.page === p ? 'page' : undefined}>
                  {TITLES[p]}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {session.tokenRequired ? (
          <button type="button" class="btn btn-quiet" onClick={onLogout}>
            Sign out
          </button>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        <CurrentPage page={loc.page} rest={loc.rest} hasStore={hasStore} />
      </main>
    </>
  );
}

function CurrentPage({ page, rest, hasStore }: { page: Page; rest: string[]; hasStore: boolean }) {
  switch (page) {
    case 'overview':
      return <OverviewPage />;
    case 'routes':
      return <RoutesPage />;
    case 'services':
      return <ServicesPage />;
    case 'consumers':
      return <ConsumersPage selected={rest[0]} />;
    case 'config':
      return <ConfigPage hasStore={hasStore} />;
    case 'cluster':
      return <ClusterPage />;
  }
}

function skipToMain(e: Event) {
  // A hash link would be read as a route: move focus by hand.
  e.preventDefault();
  document.getElementById('main')?.focus();
}
