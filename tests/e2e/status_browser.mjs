// status_browser.mjs — drives Debian's chromium (through playwright-core)
// for tests/e2e/status_page.sh.
//
//   node status_browser.mjs URL STATE_DIR SCREENSHOT AGENT NAME...
//
// Opens URL at 1366×768 and waits for the first live update, then writes
// STATE_DIR/ready so the shell script starts adding events.  It then waits
// (bounded) — without reloading — until the open-incidents table holds a
// row for each Vietnamese taxonomy NAME and the agent list shows AGENT as
// reporting, checks what an operator relies on (English name on hover,
// serious candidates highlighted, no request leaving the collector's
// origin, a single navigation), saves the screenshot and prints one JSON
// line with what it saw.  Exit 0 when every check held, 1 otherwise.
//
// playwright-core is loaded from $PLAYWRIGHT_DIR (the shell script
// installs it there with npm); the browser is /usr/bin/chromium, never a
// downloaded one.
import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const [url, stateDir, screenshot, agent, ...names] = process.argv.slice(2);
if (!url || !stateDir || !screenshot || !agent || names.length === 0) {
  console.error('usage: status_browser.mjs URL STATE_DIR SCREENSHOT AGENT NAME...');
  process.exit(2);
}
const require = createRequire(path.join(process.env.PLAYWRIGHT_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const WAIT_MS = 25000;
const result = { ok: false, checks: [], errors: [] };
const check = (what, cond) => {
  result.checks.push({ what, ok: !!cond });
  if (!cond) result.errors.push(what);
};

const origin = new URL(url).origin;
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
try {
  const page = await context.newPage();
  const foreign = [];
  let navigations = 0;
  page.on('request', (r) => { if (!r.url().startsWith(origin + '/')) foreign.push(r.url()); });
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  page.on('pageerror', (e) => result.errors.push('page error: ' + e.message));

  await page.goto(url, { waitUntil: 'load', timeout: 15000 });
  await page.waitForSelector('body[data-updated]', { timeout: 10000 });
  const before = await page.$$eval('#open tbody tr', (rows) => rows.length);
  result.rows_before = before;
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(path.join(stateDir, 'ready'), String(before));

  // Every name must appear in a row of the open-incidents table.
  await page.waitForFunction((want) => {
    const rows = [...document.querySelectorAll('#open tbody tr')].map((r) => r.textContent);
    return want.every((n) => rows.some((t) => t.includes(n)));
  }, names, { timeout: WAIT_MS, polling: 250 });
  await page.waitForSelector(`#agents li.ok[data-agent="${agent}"]`, { timeout: WAIT_MS });

  const rows = await page.$$eval('#open tbody tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    serious: tr.classList.contains('serious'),
    text: tr.textContent,
    title: tr.querySelector('.tax') ? tr.querySelector('.tax').title : '',
    sevColor: getComputedStyle(tr.querySelector('.sev')).backgroundColor,
  })));
  result.rows = rows.map((r) => ({ id: r.id, serious: r.serious, title: r.title }));
  for (const n of names) check(`row for ${n}`, rows.some((r) => r.text.includes(n)));
  check('English taxonomy name on hover', rows.some((r) => r.title.includes('Denial of service')));
  check('serious candidates highlighted', rows.some((r) => r.serious && r.text.includes('Nghiêm trọng?')));
  check('severity coloured', rows.every((r) => r.sevColor && r.sevColor !== 'rgba(0, 0, 0, 0)'));
  check('page not reloaded', navigations === 1);
  check('no request outside the collector', foreign.length === 0);
  const banner = await page.$eval('#banner', (b) => getComputedStyle(b).display);
  check('no connection-lost banner', banner === 'none');
  const agentText = await page.$eval(`#agents li[data-agent="${agent}"]`, (li) => li.textContent);
  check('agent shown as reporting', agentText.includes('Hoạt động'));
  result.agent = agentText;
  result.open_count = await page.$eval('#open-count', (e) => e.textContent);
  // Let the "new row" highlight fade so the screenshot shows steady state.
  await page.waitForTimeout(3200);
  await page.screenshot({ path: screenshot, fullPage: false });
  result.navigations = navigations;
  result.foreign = foreign;
  result.ok = result.errors.length === 0;
  exitCode = result.ok ? 0 : 1;
} catch (e) {
  result.errors.push(String(e && e.message ? e.message : e).split('\n')[0]);
} finally {
  await context.close();
}
console.log(JSON.stringify(result));
process.exit(exitCode);
