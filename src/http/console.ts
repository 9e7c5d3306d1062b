import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { gatewayError } from '../errors.js';
import type { ActiveGateway } from '../gateway/active.js';
import { loadPageFiles, type PageFile, type PageFiles } from '../console/page-files.js';

/**
 * The page may load scripts, styles and data from the gateway alone, and nothing may run inline
 * or through eval: an injected `<script>` or `on*=` attribute does nothing even if some text got
 * through unescaped. Directives as MDN's Content-Security-Policy reference and OWASP's CSP cheat
 * sheet describe a strict policy; `frame-ancestors 'none'` keeps the page out of other sites'
 * frames (clickjacking), `form-action 'none'` stops a form posting anywhere (the key form is read
 * by script, never submitted).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/**
 * `GET /console` and its assets, when `admin.console` is on (read per request, so a reload turns
 * it on or off). The files hold no data and need no key: the page asks for the admin key, keeps
 * it in the tab's sessionStorage and sends it to /admin/* as a bearer token, which is where the
 * admin scope is checked. The files are read on the first request, so a gateway with the console
 * off never reads them.
 */
export function registerConsoleRoutes(app: FastifyInstance, active: ActiveGateway): void {
  let files: PageFiles | undefined;
  const send = (
    request: FastifyRequest,
    reply: FastifyReply,
    pick: (files: PageFiles) => PageFile | undefined,
  ) => {
    if (!active.version.snapshot.config.admin.console)
      throw gatewayError(
        'HTTP_NOT_FOUND',
        `GET ${request.url.split('?')[0]}: the console is off (admin.console)`,
      );
    files ??= loadPageFiles();
    const file = pick(files);
    if (!file) throw gatewayError('HTTP_NOT_FOUND', `GET ${request.url.split('?')[0]}`);
    // Revalidated on every load, so a new gateway version's page is never mixed with an old script.
    return reply
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .type(file.contentType)
      .send(file.body);
  };
  const page = async (request: FastifyRequest, reply: FastifyReply) =>
    send(request, reply.headers(PAGE_HEADERS), (f) => f.page);
  app.get('/console', page);
  app.get('/console/', page);
  app.get<{ Params: { name: string } }>('/console/assets/:name', async (request, reply) =>
    send(request, reply, (f) => f.assets.get(request.params.name)),
  );
}
