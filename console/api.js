// The admin API as the page calls it. The key lives in this tab's sessionStorage only: never in
// a URL (where it would reach history, logs and Referer headers), never in a cookie (which the
// browser would send on its own, inviting cross-site requests), gone when the tab closes.

const KEY_ITEM = 'switchyard.admin-key';

/** @returns {string | null} */
export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

/** @param {string} key */
export function storeKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/**
 * @typedef {{ ok: true, status: number, body: unknown }
 *   | { ok: false, status: number, code: string, message: string, problems: { path: string, message: string }[] }} Answer
 */

/**
 * One admin call with the key as a bearer token. Never throws: a network failure is status 0.
 * @param {string} key
 * @param {string} path
 * @param {{ method?: 'GET' | 'POST', body?: unknown }} [options]
 * @returns {Promise<Answer>}
 */
export async function adminCall(key, path, options = {}) {
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers: {
        authorization: `Bearer ${key}`,
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    return {
      ok: false,
      status: 0,
      code: 'NETWORK',
      message: `the gateway did not answer (${String(error)})`,
      problems: [],
    };
  }
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: reported below by status.
  }
  if (response.ok) return { ok: true, status: response.status, body };
  const error = /** @type {Partial<import('./types.js').ApiError>} */ (body ?? {}).error;
  return {
    ok: false,
    status: response.status,
    code: error?.code ?? `HTTP_${response.status}`,
    message: error?.message ?? response.statusText,
    problems: error?.problems ?? [],
  };
}

/** Whether the key itself was refused: the page asks for it again. @param {Answer} answer */
export function keyRefused(answer) {
  return !answer.ok && (answer.status === 401 || answer.status === 403);
}
