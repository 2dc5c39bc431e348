// Consumers: a virtualised list loaded a page at a time (GET /consumers?limit=&after=), a search by
// id prefix, and the selected consumer's detail (#/consumers/<id>). 10,000 consumers stay fast:
// only the rows in view are in the DOM and only the pages scrolled to are fetched.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api';
import { messageOf } from '../hooks';
import { href } from '../router';
import type { Consumer, ConsumerPage } from '../types';
import { VirtualList } from '../components/virtual-list';
import { ErrorNote, PageHead } from '../components/ui';
import { SecretDialog, type NewSecret } from '../components/secret';
import { ConsumerForm } from './consumer-form';
import { ConsumerDetail } from './consumer-detail';

const PAGE = 500;
const ROW = 44;

interface ListState {
  /** The search and change generation this list is for. */
  key: string;
  items: Consumer[];
  /** The cursor of the next page; '' before the first, null when the list is complete. */
  next: string | null;
  loading: boolean;
  error?: string;
}

const fresh = (key: string): ListState => ({ key, items: [], next: '', loading: false });

/** The cursor just below every id that starts with `prefix` (ids are in code-unit order). */
function cursorBefore(prefix: string): string | undefined {
  const last = prefix.charCodeAt(prefix.length - 1);
  if (prefix === '' || last === 0) return undefined;
  return prefix.slice(0, -1) + String.fromCharCode(last - 1) + '\uffff';
}

export function ConsumersPage({ selected }: { selected: string | undefined }) {
  const [query, setQuery] = useState('');
  const [generation, setGeneration] = useState(0);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<NewSecret | undefined>(undefined);
  const q = query.trim();
  const key = `${generation}\u0000${q}`;
  const [stored, setList] = useState<ListState>(() => fresh(key));
  // A new search or a change starts the list again; answers for an older key are dropped.
  const list = stored.key === key ? stored : fresh(key);
  const listRef = useRef(list);
  listRef.current = list;
  /** The key whose page is being fetched (one request at a time per list). */
  const loadingKey = useRef<string | undefined>(undefined);

  const loadMore = useCallback(() => {
    const cur = listRef.current;
    if (loadingKey.current === key || cur.next === null || cur.error !== undefined) return;
    loadingKey.current = key;
    setList({ ...cur, loading: true });
    const after = cur.next !== '' ? cur.next : q !== '' ? cursorBefore(q) : undefined;
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (after !== undefined) params.set('after', after);
    get<ConsumerPage>(`/consumers?${params.toString()}`).then(
      (page) => {
        // Free for the next page before the list changes: the change is what asks for it.
        loadingKey.current = undefined;
        let items = page.consumers;
        let next = page.next ?? null;
        if (q !== '') {
          // Past the prefix's ids the list is over for this search.
          const past = items.findIndex((c) => c.id > q && !c.id.startsWith(q));
          if (past !== -1) {
            items = items.slice(0, past);
            next = null;
          }
          items = items.filter((c) => c.id.startsWith(q));
        }
        setList((s) => (s.key === key ? { key, items: [...s.items, ...items], next, loading: false } : s));
      },
      (err: unknown) => {
        loadingKey.current = undefined;
        setList((s) => (s.key === key ? { ...s, loading: false, error: messageOf(err) } : s));
      },
    );
  }, [key, q]);

  useEffect(() => {
    if (list.items.length === 0 && list.next === '' && !list.loading) loadMore();
  }, [list, loadMore]);

  const changed = () => setGeneration((g) => g + 1);
  return (
    <section aria-labelledby="page-title">
      <PageHead title="Consumers">
        <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
          New consumer
        </button>
      </PageHead>
      <div class="split">
        <section class="panel list-panel" aria-label="Consumer list">
          <div class="field">
            <label for="consumer-search">Search by id (prefix)</label>
            <input id="consumer-search" type="search" value={query} spellcheck={false} onInput={(e) => setQuery(e.currentTarget.value)} />
          </div>
          <p class="muted small" role="status" data-testid="consumer-count">
            {list.loading && list.items.length === 0
              ? 'Loading…'
              : `${list.items.length}${list.next === null ? '' : '+'} consumer${list.items.length === 1 ? '' : 's'}${list.next === null ? '' : ' loaded, more as you scroll'}`}
          </p>
          <ErrorNote error={list.error} />
          <VirtualList
            items={list.items}
            rowHeight={ROW}
            label="Consumers, by id"
            keyOf={(c) => c.id}
            onNearEnd={list.next === null || list.loading ? undefined : loadMore}
            render={(c) => (
              <a class="vrow-link" href={href('consumers', c.id)} aria-current={c.id === selected ? 'true' : undefined}>
                <span class="vrow-id">{c.id}</span>
                <span class="muted small">
                  {c.plan ?? 'no plan'} · {c.credentials.length} cred.
                </span>
              </a>
            )}
          />
        </section>
        <div class="detail-panel">
          {selected ? (
            <ConsumerDetail key={`${selected}:${generation}`} id={selected} onChanged={changed} onSecret={setSecret} />
          ) : (
            <p class="muted panel">Choose a consumer to see its credentials and usage, or create one.</p>
          )}
        </div>
      </div>
      {creating ? (
        <ConsumerForm
          onClose={() => setCreating(false)}
          onSaved={(c, s) => {
            setCreating(false);
            changed();
            if (s) setSecret(s);
            location.hash = href('consumers', c.id);
          }}
        />
      ) : null}
      {secret ? <SecretDialog secret={secret} onClose={() => setSecret(undefined)} /> : null}
    </section>
  );
}
