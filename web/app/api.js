// The REST API client: JSON in, JSON out, every error a Problem (RFC 9457) with a readable message. The access token
// lives in sessionStorage (this tab only, gone when it closes; never a cookie, never localStorage).

const TOKEN = 'boxoffice.token';

/** An API error: the problem document's fields, plus a message fit for a person. */
export class Problem extends Error {
  constructor(status, doc) {
    super(readable(status, doc));
    this.status = status;
    this.type = (doc.type || '').split('/').pop();
    this.title = doc.title || '';
    this.detail = doc.detail || '';
    this.errors = Array.isArray(doc.errors) ? doc.errors : [];
    this.unavailableSeats = Array.isArray(doc.unavailableSeats) ? doc.unavailableSeats : [];
    this.retryAfter = null;
  }
}

function readable(status, doc) {
  if (status === 0) return 'The service could not be reached. Check your connection and try again.';
  if (status === 429) return 'Too many requests for a moment: please wait a few seconds and try again.';
  if (status === 401 && doc.type && doc.type.endsWith('/unauthorized')) {
    return doc.detail || 'Please log in again.';
  }
  if (status >= 500 && !doc.detail) return 'Something went wrong on our side. Please try again in a moment.';
  return doc.detail || doc.title || `The request failed (${status}).`;
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(v) {
    if (v) sessionStorage.setItem(TOKEN, v);
    else sessionStorage.removeItem(TOKEN);
  },
};

/** A fresh Idempotency-Key. */
export function newKey() {
  return crypto.randomUUID();
}

/**
 * Calls the API. Returns {status, data, etag}; throws a Problem for any 4xx/5xx (and for a network failure).
 * opts: {body, key (Idempotency-Key), etag (If-None-Match), auth (default: when logged in)}.
 */
export async function call(method, path, opts = {}) {
  const headers = { accept: 'application/json, application/problem+json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.key) headers['idempotency-key'] = opts.key;
  if (opts.etag) headers['if-none-match'] = opts.etag;
  const token = session.token;
  if (token && opts.auth !== false) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: 'no-store',
    });
  } catch {
    throw new Problem(0, {});
  }
  const etag = response.headers.get('etag');
  if (response.status === 304 || response.status === 204) return { status: response.status, data: null, etag };
  const type = response.headers.get('content-type') || '';
  let data = null;
  if (type.includes('json')) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const problem = new Problem(response.status, data && typeof data === 'object' ? data : {});
    problem.retryAfter = response.headers.get('retry-after');
    if (response.status === 401 && token) session.token = null;
    throw problem;
  }
  return { status: response.status, data, etag };
}

export const get = (path, opts) => call('GET', path, opts);
