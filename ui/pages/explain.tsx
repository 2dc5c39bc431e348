// The explain form: method + URL + headers → POST /explain, the same answer as `gatehouse explain`.
import { useState } from 'preact/hooks';
import { post } from '../api';
import { messageOf } from '../hooks';
import type { Explanation } from '../types';
import { Badge, ErrorNote } from '../components/ui';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function ExplainForm() {
  const [method, setMethod] = useState('GET');
  const [url, setUrl] = useState('');
  const [headers, setHeaders] = useState('');
  const [result, setResult] = useState<Explanation | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseHeaders(headers);
    if (typeof parsed === 'string') {
      setError(parsed);
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      setResult(await post<Explanation>('/explain', { method, url: url.trim(), headers: parsed }));
    } catch (err) {
      setResult(undefined);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="explain-h">
      <h2 id="explain-h">Explain a request</h2>
      <form class="explain" onSubmit={(e) => void submit(e)}>
        <div class="field">
          <label for="explain-method">Method</label>
          <select id="explain-method" value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
            {METHODS.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </div>
        <div class="field grow">
          <label for="explain-url">URL or path</label>
          <input
            id="explain-url"
            required
            placeholder="http://api.example.com/api/v1/users/42"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </div>
        <div class="field grow">
          <label for="explain-headers">Headers (one "name: value" a line)</label>
          <textarea id="explain-headers" rows={2} spellcheck={false} value={headers} onInput={(e) => setHeaders(e.currentTarget.value)} />
        </div>
        <div class="field end">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Explain
          </button>
        </div>
      </form>
      <ErrorNote error={error} />
      {result ? <ExplainResult r={result} /> : null}
    </section>
  );
}

function ExplainResult({ r }: { r: Explanation }) {
  return (
    <div class="explain-result" role="status" data-testid="explain-result">
      <p>
        <Badge kind={r.matched ? 'ok' : 'bad'}>{r.matched ? 'matched' : `no match · ${r.status}`}</Badge>{' '}
        {r.route ? <strong data-testid="explain-route">{r.route.route}</strong> : null} <span class="wrap">{r.reason}</span>
      </p>
      <dl class="facts">
        {r.canonicalPath !== undefined ? (
          <>
            <dt>Canonical path</dt>
            <dd>
              <code>{r.canonicalPath}</code>
            </dd>
          </>
        ) : null}
        {r.upstream ? (
          <>
            <dt>Upstream</dt>
            <dd class="wrap">
              <code>{r.upstream.target + r.upstream.path}</code> (Host: {r.upstream.host})
            </dd>
          </>
        ) : null}
        {r.params && Object.keys(r.params).length > 0 ? (
          <>
            <dt>Parameters</dt>
            <dd>
              {Object.entries(r.params)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')}
            </dd>
          </>
        ) : null}
        {r.policies ? (
          <>
            <dt>Policies, in order</dt>
            <dd>{r.policies.length ? r.policies.map((p) => `${p.type} (${p.scope}, ${p.phases.join('/')})`).join(' → ') : 'none'}</dd>
          </>
        ) : null}
      </dl>
      {r.candidates && r.candidates.length > 0 ? (
        <div class="table-scroll">
          <table class="table compact">
            <caption>Routes whose path matched</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  #
                </th>
                <th scope="col">Route</th>
                <th scope="col">Outcome</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {r.candidates.map((c) => (
                <tr key={c.order}>
                  <td class="num">{c.order}</td>
                  <td>{c.route}</td>
                  <td>
                    <Badge kind={c.outcome === 'matched' ? 'ok' : 'muted'}>{c.outcome}</Badge>
                  </td>
                  <td class="wrap">{c.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

/** "name: value" lines → an object; a line without a colon is refused with its number. */
export function parseHeaders(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const at = line.indexOf(':');
    if (at <= 0) return `Header line ${i + 1} is not "name: value".`;
    out[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return out;
}
