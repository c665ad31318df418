// status_browser.mjs — drives Debian's chromium (through playwright-core)
// for tests/e2e/status_page.sh, as a SOC operator would use the page.
//
//   node status_browser.mjs URL STATE_DIR SHOT_DIR AGENT TOKEN DOS DEFACE COMBINED VIEWER OTHER
//
// 1. Opens URL (no credentials) at 1366×768: the login form must show and
//    no incident.  A wrong token is refused on the form; TOKEN (an
//    operator's) logs in, and the header names the operator.  Writes
//    STATE_DIR/ready so the shell script starts adding events.
// 2. Waits (bounded, no reload) for the combined incident and the other
//    agency's incident as the only top-level rows: the per-kind incidents
//    (DOS, DEFACE) are grouped under the combined one, the open count
//    counts the group once; expanding it shows them.
// 3. Filters (severity, text, agency, taxonomy) and sorts by agency.
// 4. Opens the detail of the DOS incident (evidence, timeline, the
//    collector opening it in its log) and of the combined one (its linked
//    incidents).
// 4b. Triage from the page, as operator 'an': acknowledges the combined
//    incident with a note (the table's state changes, the state filter
//    finds it, the log entry shows in the detail); acknowledges, confirms
//    as serious and resolves the DoS incident; rejects the port scan as a
//    false positive (first without a reason: refused on the page); and
//    meets a clear refusal when another operator (OTHER, an operator's
//    token, through the API) acknowledged the defacement meanwhile.
//    Saves SHOT_DIR/status-page-actions.png.  Then logs out and in with
//    VIEWER (the viewers' token): no action buttons, and a POST by hand
//    with the session's CSRF token is refused 403.
// 5. Saves SHOT_DIR/status-page.png, writes STATE_DIR/stop-redis, and
//    waits until the page says its data is stale ("Redis unreachable
//    since ...") and the "data as of" time stops moving; saves
//    SHOT_DIR/status-page-stale.png.
// Prints one JSON line with what it saw; exit 0 when every check held.
//
// playwright-core is loaded from $PLAYWRIGHT_DIR (the shell script
// installs it there with npm); the browser is /usr/bin/chromium, never a
// downloaded one.
import { createRequire } from 'node:module';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const [url, stateDir, shotDir, agent, token, dos, deface, combined, viewerToken, otherToken] =
  process.argv.slice(2);
if (!otherToken) {
  console.error('usage: status_browser.mjs URL STATE_DIR SHOT_DIR AGENT TOKEN DOS DEFACE COMBINED VIEWER OTHER');
  process.exit(2);
}
const require = createRequire(path.join(process.env.PLAYWRIGHT_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const WAIT_MS = 30000;
const result = { ok: false, checks: [], errors: [] };
const check = (what, cond) => {
  result.checks.push({ what, ok: !!cond });
  if (!cond) result.errors.push(what);
};
const poll = { timeout: WAIT_MS, polling: 250 };

const origin = new URL(url).origin;
mkdirSync(stateDir, { recursive: true });
// A fresh profile each run (the directory is the test's own temporary one).
const context = await chromium.launchPersistentContext(path.join(stateDir, 'chromium-profile'), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  timeout: 30000,
  viewport: { width: 1366, height: 768 },
  locale: 'vi-VN',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let exitCode = 1;
let page = null;
try {
  page = await context.newPage();
  const foreign = [];
  let navigations = 0;
  page.on('request', (r) => { if (!r.url().startsWith(origin + '/')) foreign.push(r.url()); });
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  page.on('pageerror', (e) => result.errors.push('page error: ' + e.message));

  // ---- 1. login ----------------------------------------------------------
  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  await page.waitForSelector('body.login #login-token', { timeout: WAIT_MS });
  check('login form shown without a token', await page.isVisible('#login-token'));
  check('no incident rows before login', (await page.$$('#open tbody tr')).length === 0);
  await page.fill('#login-token', 'not-the-token-at-all');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-error').textContent !== '', null, poll);
  check('wrong token refused on the form', await page.$eval('body', (b) => b.className === 'login'));
  await page.fill('#login-token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('body:not(.login)[data-updated]', { timeout: WAIT_MS });
  result.who = await page.$eval('#who', (e) => e.textContent);
  check('operator named in the header', result.who.startsWith('an ') && result.who.includes('operator'));
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'canh_session');
  check('session cookie HttpOnly, SameSite=Strict', session && session.httpOnly && session.sameSite === 'Strict');
  writeFileSync(path.join(stateDir, 'ready'), String((await page.$$('#open tbody tr')).length));

  // ---- 2. grouping -------------------------------------------------------
  const topRows = () => page.$$eval('#open tbody tr.inc:not(.child)', (trs) => trs.map((tr) => ({
    id: tr.dataset.id, text: tr.textContent, toggle: !!tr.querySelector('button[data-toggle]'),
  })));
  await page.waitForFunction((want) => {
    const rows = [...document.querySelectorAll('#open tbody tr.inc:not(.child)')].map((r) => r.textContent);
    return rows.length === 2 && rows.some((t) => t.includes(want)) && rows.some((t) => t.includes('Sở Tư pháp'));
  }, combined, poll);
  await page.waitForFunction(() => document.getElementById('open-count').textContent === '2', null, poll);
  await page.waitForSelector(`#agents li.ok[data-agent="${agent}"]`, { timeout: WAIT_MS });
  let top = await topRows();
  const group = top.find((r) => r.text.includes(combined));
  result.combined_id = group && group.id;
  check('combined incident is one expandable row', group && group.toggle);
  check('per-kind incidents not listed on their own', !top.some((r) => r.text.includes(dos) || r.text.includes(deface)));
  check('children hidden until expanded', (await page.$$('#open tbody tr.child')).length === 0);
  await page.click(`#open button[data-toggle="${group.id}"]`);
  await page.waitForSelector('#open tbody tr.child', { timeout: WAIT_MS });
  const children = await page.$$eval('#open tbody tr.child', (trs) => trs.map((tr) => ({
    id: tr.dataset.id, parent: tr.dataset.parent, serious: tr.classList.contains('serious'), text: tr.textContent,
    title: tr.querySelector('.tax') ? tr.querySelector('.tax').title : '',
    sevColor: getComputedStyle(tr.querySelector('.sev')).backgroundColor,
  })));
  result.children = children.map((c) => c.id);
  check('expanded group shows the DoS and defacement incidents',
    children.some((c) => c.text.includes(dos)) && children.some((c) => c.text.includes(deface)) &&
    children.every((c) => c.parent === group.id));
  check('English taxonomy name on hover', children.some((c) => c.title.includes('Denial of service')));
  check('serious candidates highlighted', children.some((c) => c.serious && c.text.includes('Nghiêm trọng?')));
  check('severity coloured', children.every((c) => c.sevColor && c.sevColor !== 'rgba(0, 0, 0, 0)'));
  check('incident id shown', children.every((c) => c.text.includes(c.id)));

  // ---- 3. filter and sort ------------------------------------------------
  const visibleTop = async () => (await topRows()).map((r) => r.text);
  await page.selectOption('#f-severity', 'low');
  top = await visibleTop();
  check('filter severity=low: only the low incident', top.length === 1 && top[0].includes('Sở Tư pháp'));
  await page.selectOption('#f-severity', '');
  await page.fill('#f-text', '192.0.2.99');
  top = await visibleTop();
  check('search by source address', top.length === 1 && top[0].includes('192.0.2.99'));
  await page.fill('#f-text', '');
  await page.selectOption('#f-agency', 'Sở Tư pháp');
  top = await visibleTop();
  check('filter by agency', top.length === 1 && top[0].includes('Sở Tư pháp'));
  await page.selectOption('#f-agency', '');
  await page.selectOption('#f-taxonomy', 'attack.dos');
  top = await visibleTop();
  const dosShown = await page.$$eval('#open tbody tr.child', (trs) => trs.map((t) => t.textContent));
  check('filter by taxonomy keeps the group and shows the matching part',
    top.length === 1 && top[0].includes(combined) && dosShown.length === 1 && dosShown[0].includes(dos));
  await page.selectOption('#f-taxonomy', '');
  await page.click('#open th[data-sort="agency"]');
  top = await visibleTop();
  const asc = top[0];
  await page.click('#open th[data-sort="agency"]');
  top = await visibleTop();
  check('sort by agency, both ways', asc.includes('Sở Tư pháp') && top[0].includes('Sở Y tế'));

  // ---- 4. detail ---------------------------------------------------------
  const dosRow = children.find((c) => c.text.includes(dos));
  await page.click(`#open tr[data-id="${dosRow.id}"] td.id`);
  await page.waitForSelector(`#detail.show[data-loaded="${dosRow.id}"]`, { timeout: WAIT_MS });
  const detail = await page.$eval('#d-body', (b) => ({
    text: b.textContent,
    evidence: b.querySelector('pre.evidence') ? b.querySelector('pre.evidence').textContent : '',
    timeline: [...b.querySelectorAll('ul.timeline li')].map((li) => li.textContent),
    actions: [...b.querySelectorAll('ul.actions li')].map((li) => li.textContent),
  }));
  check('detail shows the evidence', detail.evidence.includes('"counters"') || detail.evidence.length > 10);
  check('detail timeline has the opening', detail.timeline.some((t) => t.includes('opened')));
  // The collector logs its own steps in the incident's log (canh:log:<id>).
  check('detail action log has the collector opening it',
    detail.actions.some((t) => t.includes('action=opened') && t.includes('operator=collector')));
  check('detail names the source', detail.text.includes('203.0.113.7'));
  await page.click(`#open tr[data-id="${group.id}"] td.id`);
  await page.waitForSelector(`#detail.show[data-loaded="${group.id}"]`, { timeout: WAIT_MS });
  const linked = await page.$$eval('#d-body ul.children li', (l) => l.length);
  check('combined detail lists its linked incidents', linked === 3);

  // ---- 4b. triage from the page -------------------------------------------
  const logOf = () => page.$$eval('#d-body ul.actions li', (l) => l.map((x) => x.textContent));
  const stateShown = () => page.$eval('#detail', (d) => d.dataset.state);
  const buttons = () => page.$$eval('#d-body button[data-act]', (b) => b.map((x) => x.dataset.act));
  // Clicks verb on the open detail (note, class first) and waits for the
  // answer and the detail read again; returns the message shown.
  const act = async (id, verb, note, cls) => {
    await page.fill('#d-note', note || '');
    if (cls) await page.selectOption('#d-class', cls);
    await page.click(`#d-body button[data-act="${verb}"]`);
    await page.waitForFunction((want) => {
      const d = document.getElementById('detail');
      return document.getElementById('d-msg').className !== '' && d.dataset.loaded === want;
    }, id, poll);
    return page.$eval('#d-msg', (m) => ({ cls: m.className, text: m.textContent }));
  };
  const openLinked = async (id) => {
    await page.click(`#open tr[data-id="${group.id}"] td.id`);
    await page.waitForSelector(`#detail.show[data-loaded="${group.id}"]`, { timeout: WAIT_MS });
    await page.click(`#d-body a[data-open="${id}"]`);
    await page.waitForSelector(`#detail.show[data-loaded="${id}"]`, { timeout: WAIT_MS });
  };
  result.triage = [];
  const offered = await buttons();
  check('operator sees the actions of an open incident (no resolve before ack)',
    ['ack', 'confirm', 'reject', 'note'].every((v) => offered.includes(v)) && !offered.includes('resolve'));
  let msg = await act(group.id, 'ack', 'đang xem xét');
  result.triage.push(msg.text);
  check('ack from the page: done message', msg.cls === 'ok' && msg.text.includes('acknowledged') && msg.text.includes('an'));
  check('ack from the page: the detail shows the new state', (await stateShown()) === 'acknowledged');
  check('ack from the page: the log entry with the operator and the note',
    (await logOf()).some((t) => t.includes('action=acknowledged') && t.includes('operator=an') && t.includes('note=đang xem xét')));
  await page.waitForSelector(`#open tr[data-id="${group.id}"] .state.acknowledged`, { timeout: WAIT_MS });
  check('the table shows the group acknowledged',
    (await page.$eval(`#open tr[data-id="${group.id}"] .state`, (e) => e.textContent)) === 'Đã tiếp nhận');
  await page.selectOption('#f-state', 'acknowledged');
  top = await topRows();
  check('filter state=acknowledged: the acknowledged group only', top.length === 1 && top[0].id === group.id);
  await page.selectOption('#f-state', '');

  await openLinked(dosRow.id);
  msg = await act(dosRow.id, 'ack');
  check('DoS acknowledged', msg.cls === 'ok' && (await stateShown()) === 'acknowledged');
  check('resolve offered once acknowledged', (await buttons()).includes('resolve'));
  msg = await act(dosRow.id, 'confirm', 'SYN flood thật vào cổng thông tin', 'serious');
  check('DoS confirmed serious', msg.cls === 'ok' && (await stateShown()) === 'confirmed' &&
    (await page.$eval('#d-body', (b) => b.textContent)).includes('Nghiêm trọng / Serious'));
  msg = await act(dosRow.id, 'resolve', 'đã chặn ở tường lửa');
  check('DoS resolved', msg.cls === 'ok' && (await stateShown()) === 'resolved');
  const dosLog = (await logOf()).filter((t) => t.includes('operator=an'));
  result.dos_log = dosLog;
  check('DoS log: acknowledged, confirmed, resolved by an, in order',
    dosLog.length === 3 && dosLog[0].includes('action=acknowledged') && dosLog[1].includes('action=confirmed') &&
    dosLog[1].includes('SYN flood thật') && dosLog[2].includes('action=resolved'));
  check('a resolved incident offers note and reopen only',
    JSON.stringify((await buttons()).sort()) === JSON.stringify(['note', 'reopen']));

  const scan = children.find((c) => !c.text.includes(dos) && !c.text.includes(deface));
  result.scan_id = scan && scan.id;
  await openLinked(scan.id);
  msg = await act(scan.id, 'reject', '');
  check('reject without a reason: refused on the page',
    msg.cls === 'error' && msg.text.includes('400') && msg.text.includes('why it is a false positive') &&
    (await stateShown()) !== 'rejected');
  msg = await act(scan.id, 'reject', 'quét từ đội kiểm thử được phép');
  check('scan rejected as a false positive', msg.cls === 'ok' && (await stateShown()) === 'rejected' &&
    (await page.$eval('#d-body', (b) => b.textContent)).includes('quét từ đội kiểm thử được phép'));

  const defaceRow = children.find((c) => c.text.includes(deface));
  await openLinked(defaceRow.id);
  check('defacement open: ack offered', (await buttons()).includes('ack'));
  // Another operator acts first (through the API with their own token).
  const other = await context.request.post(origin + '/api/action', {
    headers: { Authorization: 'Bearer ' + otherToken }, form: { action: 'ack', id: defaceRow.id },
  });
  check('another operator acknowledges through the API', other.status() === 200);
  msg = await act(defaceRow.id, 'ack');
  result.conflict = msg.text;
  check('acting on a stale view: a clear refusal on the page',
    msg.cls === 'error' && msg.text.includes('409') && msg.text.includes('it is acknowledged'));
  check('the detail then shows who acted', (await logOf()).some((t) => t.includes('action=acknowledged') && t.includes('operator=binh')));
  await page.screenshot({ path: path.join(shotDir, 'status-page-actions.png'), fullPage: false });
  await page.click('#d-close');

  // ---- 4c. a viewer cannot act ---------------------------------------------
  await page.click('#logout');
  await page.waitForSelector('body.login #login-token', { timeout: WAIT_MS });
  await page.fill('#login-token', viewerToken);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('body:not(.login)', { timeout: WAIT_MS });
  check('logged in again as a viewer', (await page.$eval('#who', (e) => e.textContent)).includes('viewer'));
  await page.waitForSelector(`#open tr[data-id="${group.id}"] td.id`, { timeout: WAIT_MS });
  await page.click(`#open tr[data-id="${group.id}"] td.id`);
  await page.waitForSelector(`#detail.show[data-loaded="${group.id}"]`, { timeout: WAIT_MS });
  check('a viewer gets no action buttons',
    (await buttons()).length === 0 && (await page.$$('#d-body .viewer-note')).length === 1);
  const forced = await page.evaluate(async (id) => {
    const s = await (await fetch('/api/session')).json();
    const r = await fetch('/api/action', {
      method: 'POST', body: 'action=note&note=x&id=' + encodeURIComponent(id),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': s.csrf },
    });
    return { status: r.status, body: await r.json() };
  }, group.id);
  result.viewer_post = forced;
  check('a viewer\'s POST /api/action is refused 403', forced.status === 403 && forced.body.error.includes('viewers cannot act'));
  await page.click('#d-close');

  check('page not reloaded', navigations === 1);
  check('no request outside the collector', foreign.length === 0);
  check('no connection-lost banner', (await page.$eval('#banner', (b) => getComputedStyle(b).display)) === 'none');
  check('no stale banner while Redis is up', (await page.$eval('#stale', (b) => getComputedStyle(b).display)) === 'none');
  const agentText = await page.$eval(`#agents li[data-agent="${agent}"]`, (li) => li.textContent);
  check('agent shown as reporting', agentText.includes('Hoạt động'));
  result.open_count = await page.$eval('#open-count', (e) => e.textContent);
  // Let the "new row" highlight fade so the screenshot shows steady state.
  await page.waitForFunction(() => !document.querySelector('tr.fresh') ||
    [...document.querySelectorAll('tr.fresh')].every((t) => t.getAnimations().length === 0), null, poll);
  await page.$eval('#open', (t) => { t.parentElement.scrollTop = 0; });
  await page.screenshot({ path: path.join(shotDir, 'status-page.png'), fullPage: false });

  // ---- 5. stale data -----------------------------------------------------
  writeFileSync(path.join(stateDir, 'stop-redis'), '1');
  await page.waitForFunction(() => {
    const b = document.getElementById('stale');
    return b.classList.contains('show') && b.textContent.includes('Redis unreachable since');
  }, null, poll);
  const asOf = await page.$eval('#updated', (e) => e.textContent);
  result.stale_banner = await page.$eval('#stale', (e) => e.textContent);
  // Two more polls: the "data as of" time must not move.
  for (let i = 0; i < 2; i++) {
    const before = await page.$eval('body', (b) => b.dataset.updated);
    await page.waitForFunction((v) => document.body.dataset.updated !== v, before, poll);
  }
  check('"data as of" does not tick while Redis is down',
    asOf === await page.$eval('#updated', (e) => e.textContent));
  check('stale banner names the data time', result.stale_banner.includes(asOf.replace(/^.* /, '')));
  await page.screenshot({ path: path.join(shotDir, 'status-page-stale.png'), fullPage: false });
  result.navigations = navigations;
  result.foreign = foreign;
  result.ok = result.errors.length === 0;
  exitCode = result.ok ? 0 : 1;
} catch (e) {
  result.errors.push(String(e && e.message ? e.message : e).split('\n')[0]);
  // What the operator would have seen, for the failure report.
  try {
    result.seen = await page.evaluate(() => ({
      body: document.body.className, banner: document.getElementById('banner').title,
      stale: document.getElementById('stale').textContent, who: document.getElementById('who').textContent,
      login_error: document.getElementById('login-error').textContent,
      rows: [...document.querySelectorAll('#open tbody tr')].map((r) => r.textContent.slice(0, 80)),
    }));
  } catch (e2) { result.seen = String(e2).split('\n')[0]; }
} finally {
  await context.close();
}
if (!existsSync(path.join(stateDir, 'stop-redis'))) writeFileSync(path.join(stateDir, 'stop-redis'), '0');
console.log(JSON.stringify(result));
process.exit(exitCode);
