// Drives the lab's page (ipw lab serve) in headless Chromium (Debian's, through puppeteer-core)
// against the real lab, the scripted LLM server and a fake powercap tree: load, fill the prompt,
// Run, the live log lines arriving in order while the run is in flight, the per-run chart and
// figures equal to what the API streamed, a 3-run batch and its statistics row equal to
// GET /api/batches, a second client seeing the queue and the live run, Remove, a narrow window,
// no console error and no request leaving the server's own origin. Screenshots go to OUTDIR.
// usage: node lab_page_check.js URL OUTDIR
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

function fail(msg) {
  console.error('lab page check failed: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}
function check(cond, msg) { if (!cond) fail(msg); }

// What the page shows must be the API's number itself: data-value carries it exactly.
function same(shown, want, what) {
  if (want === null || want === undefined) {
    check(shown === 'null', what + ': shows ' + shown + ', the API has null');
  } else {
    check(parseFloat(shown) === want, what + ': shows ' + shown + ', the API has ' + want);
  }
}

// The events of a job, parsed from its SSE stream (the job is over, so the stream ends).
async function jobEvents(base, id) {
  const r = await fetch(base + 'api/jobs/' + id + '/events');
  const text = await r.text();
  return text.split('\n\n').filter((b) => b.includes('data: ')).map((b) => {
    const ev = /event: (.*)/.exec(b)[1];
    return {type: ev, data: JSON.parse(/data: (.*)/.exec(b)[1])};
  });
}

async function main() {
  const [base, outdir] = process.argv.slice(2);
  const origin = new URL(base).origin;
  fs.mkdirSync(outdir, {recursive: true});
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ipw-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const problems = [];
  const pages = [];
  const watch = (page, who) => {
    pages.push([page, who]);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning' || m.type() === 'warn')
        problems.push(who + ' console ' + m.type() + ': ' + m.text());
    });
    page.on('pageerror', (e) => problems.push(who + ' page error: ' + e.message));
    page.on('requestfailed', (r) => {
      // an event stream closed by the page itself when its job ends is not a failure
      if (!/\/events$/.test(r.url())) problems.push(who + ' request failed: ' + r.url());
    });
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(origin + '/') && !u.startsWith('data:'))
        problems.push(who + ' request left the server: ' + u);
    });
  };
  try {
    const page = await browser.newPage();
    watch(page, 'page');
    await page.setViewport({width: 1280, height: 800});
    await page.goto(base, {waitUntil: 'load'});
    await page.waitForSelector('body[data-ready="1"]', {timeout: 20000});

    // the model picker lists what the server offers
    const models = await page.$$eval('#model option', (o) => o.map((x) => x.value));
    check(models.includes('m1'), 'model picker lacks m1: ' + models.join(','));
    await page.select('#model', 'm1');
    await page.type('#prompt', 'What does this prompt cost?');
    await page.click('#run-btn');

    // while the run is in flight: the first token is logged, the run is not done, the answer is
    // still streaming
    await page.waitForSelector('#log .line[data-kind="first_token"]', {timeout: 30000});
    const inflight = await page.evaluate(() => ({
      kinds: Array.from(document.querySelectorAll('#log .line')).map((l) => l.dataset.kind),
      answer: document.getElementById('answer').textContent,
    }));
    check(!inflight.kinds.includes('run_done'), 'the run was already done when its first token ' +
          'was logged: the log is not live');
    check(inflight.kinds.includes('baseline') && inflight.kinds.includes('snapshot'),
          'baseline and start snapshot not logged before the first token: ' + inflight.kinds);
    await page.screenshot({path: path.join(outdir, 'lab-running.png')});
    await page.waitForSelector('body[data-last-state="done"]', {timeout: 60000});
    const job1 = await page.evaluate(() => document.body.dataset.lastJob);

    // the log: every step in order
    const kinds = await page.$$eval('#log .line', (ls) => ls.map((l) => l.dataset.kind));
    const order = ['baseline', 'snapshot', 'first_token', 'metric', 'run_done', 'batch_done', 'end'];
    let at = -1;
    for (const k of order) {
      const i = kinds.indexOf(k, at + 1);
      check(i > at, 'log line "' + k + '" missing or out of order: ' + kinds.join(' '));
      at = i;
    }
    const answer = await page.$eval('#answer', (a) => a.textContent);
    check(answer.length > 10, 'the answer did not stream: "' + answer + '"');

    // the figures and the chart equal what the API streamed
    const ev1 = await jobEvents(base, job1);
    const run1 = ev1.find((e) => e.type === 'run_done').data.run;
    check(run1.total_wh > 0, 'the run measured no energy: ' + JSON.stringify(run1));
    const cards = await page.$$eval('#metrics .metric', (m) => m.map((x) => ({k: x.dataset.metric, v: x.dataset.value})));
    check(cards.length >= 15, 'only ' + cards.length + ' figures shown');
    for (const c of cards) same(c.v, run1[c.k], 'figure ' + c.k);
    const bars = await page.$$eval('#run-chart rect', (r) => r.map((x) => ({part: x.dataset.part, v: parseFloat(x.dataset.value)})));
    check(bars.length === 3, 'the run chart has ' + bars.length + ' parts, expected 3');
    const part = (p) => bars.find((b) => b.part === p).v;
    check(part('prefill') === run1.prefill_active_wh, 'chart prefill ' + part('prefill') + ' != ' + run1.prefill_active_wh);
    check(part('decode') === run1.decode_active_wh, 'chart decode ' + part('decode') + ' != ' + run1.decode_active_wh);
    const idle = run1.total_wh - run1.prefill_active_wh - run1.decode_active_wh;
    check(Math.abs(part('idle') - idle) <= 1e-15 * Math.max(1, idle), 'chart idle ' + part('idle') + ' != ' + idle);
    check(part('decode') > 0 && part('idle') > 0, 'the fake machine drew no active decode or idle energy');
    // the session card calls the total measured only because every run read a (fake) counter
    await page.waitForFunction(() => [...document.querySelectorAll('#session dt')].some((d) => d.textContent === 'Measured energy'),
                               {timeout: 10000}).catch(() => {});
    const sessionKeys = await page.$$eval('#session dt', (d) => d.map((x) => x.textContent));
    check(sessionKeys.includes('Measured energy') && !sessionKeys.some((k) => k.includes('modelled')),
          'session summary labels: ' + sessionKeys.join(', '));

    // a server that stalls mid-answer: wall time the server does not report as evaluating, so
    // M_eff deviates from E_llm by more than 20 % and the page shows it in red
    await page.select('#model', 'm2');
    await page.click('#run-btn');
    await page.waitForFunction((prev) => document.body.dataset.lastState === 'done' &&
                               document.body.dataset.lastJob !== prev,
                               {timeout: 60000, polling: 100}, job1);
    const jobStall = await page.evaluate(() => document.body.dataset.lastJob);
    const runStall = (await jobEvents(base, jobStall)).find((e) => e.type === 'run_done').data.run;
    const dev = await page.$eval('#metrics .metric[data-metric="m_eff_deviation_pct"]',
                                 (m) => ({v: m.dataset.value, red: m.classList.contains('flag'),
                                          color: getComputedStyle(m.querySelector('.v')).color}));
    same(dev.v, runStall.m_eff_deviation_pct, 'M_eff deviation');
    check(runStall.m_eff_deviation_pct >= 20 && dev.red && dev.color === 'rgb(217, 45, 32)',
          'a ' + runStall.m_eff_deviation_pct + ' % deviation is not shown in red: ' + JSON.stringify(dev));
    check(!cards.some((c) => c.k === 'm_eff_deviation_pct' && parseFloat(c.v) >= 20),
          'the first run deviated by 20 % or more; it should not have');
    await page.select('#model', 'm1');

    // a 3-run batch; a second client opened meanwhile sees the queue and follows the live run
    await page.$eval('#runs', (e) => { e.value = '3'; });
    await page.click('#run-btn');
    await page.waitForFunction((prev) => document.getElementById('job-label').textContent !== 'job ' + prev,
                               {timeout: 10000}, jobStall);
    const page2 = await browser.newPage();
    watch(page2, 'second client');
    await page2.setViewport({width: 1280, height: 800});
    await page2.goto(base, {waitUntil: 'load'});
    await page2.waitForSelector('body[data-ready="1"]', {timeout: 20000});
    const pill = await page2.$eval('#queue-pill', (p) => p.textContent);
    check(/running j\d+/.test(pill), 'the second client does not see the running job: "' + pill + '"');
    await page2.waitForSelector('#log .line[data-kind="run_done"]', {timeout: 60000});

    // back to the first client (a background tab gets no animation frames to poll with)
    await page.bringToFront();
    await page.waitForFunction((prev) => document.body.dataset.lastState === 'done' &&
                               document.body.dataset.lastJob !== prev,
                               {timeout: 90000, polling: 100}, jobStall);
    const job2 = await page.evaluate(() => document.body.dataset.lastJob);
    const ev2 = await jobEvents(base, job2);
    const runs2 = ev2.filter((e) => e.type === 'run_done').map((e) => e.data.run);
    check(runs2.length === 3, runs2.length + ' runs streamed, expected 3');
    const batchId = ev2.find((e) => e.type === 'batch_done').data.batch_id;
    // wait for the table's refresh after the job's end
    await page.waitForSelector('#batches tbody tr[data-batch="' + batchId + '"]', {timeout: 10000});

    const points = await page.$$eval('#batch-chart rect', (r) => r.map((x) => parseFloat(x.dataset.value)));
    check(points.length === 3, 'batch chart has ' + points.length + ' runs');
    points.forEach((v, i) => check(v === runs2[i].wh_per_1000_etokens, 'batch chart run ' + (i + 1) + ': ' + v + ' != ' + runs2[i].wh_per_1000_etokens));

    const api = await (await fetch(base + 'api/batches')).json();
    const row = api.batches.find((b) => b.id === batchId);
    check(row && row.summary, 'GET /api/batches has no summary for batch ' + batchId);
    const sm = row.summary.variants ? row.summary.variants[0] : row.summary;
    const st = sm.wh_per_1000_etokens;
    check(st.n === 3, 'the stored summary has n = ' + st.n);
    const median = await page.$eval('#median-line', (l) => parseFloat(l.dataset.value));
    check(median === st.median, 'median line ' + median + ' != ' + st.median);
    const cells = await page.$$eval('#batches tbody tr[data-batch="' + batchId + '"] td[data-stat]',
                                    (t) => t.map((x) => ({k: x.dataset.stat, v: x.dataset.value})));
    const cell = (k) => cells.find((c) => c.k === k).v;
    same(cell('runs'), sm.runs, 'table runs');
    for (const k of ['mean', 'median', 'std', 'p5', 'p95', 'cv']) same(cell(k), st[k], 'table ' + k);
    check(cell('median_ci95') === JSON.stringify(st.median_ci95), 'table CI ' + cell('median_ci95') + ' != ' + JSON.stringify(st.median_ci95));
    same(cell('total_wh_median'), sm.total_wh.median, 'table total Wh median');
    // and the statistics themselves, recomputed here from the streamed runs (numpy's rules)
    const v = runs2.map((r) => r.wh_per_1000_etokens).sort((a, b) => a - b);
    const mean = v.reduce((a, b) => a + b, 0) / 3;
    const close = (a, b) => Math.abs(a - b) <= 1e-12 * Math.abs(b);
    check(close(st.mean, mean) && st.median === v[1], 'mean/median disagree with the runs');
    check(close(st.p5, v[0] + 0.1 * (v[1] - v[0])) && close(st.p95, v[1] + 0.9 * (v[2] - v[1])),
          'p5/p95 disagree with linear interpolation');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({path: path.join(outdir, 'lab-batch.png'), fullPage: true});

    // Remove: the row goes from the page and from the store
    const before = await page.$$eval('#batches tbody tr[data-batch]', (r) => r.length);
    await page.click('#batches tbody tr[data-batch="' + batchId + '"] button');
    await page.waitForFunction((id) => !document.querySelector('#batches tbody tr[data-batch="' + id + '"]'),
                               {timeout: 10000}, String(batchId));
    const after = await page.$$eval('#batches tbody tr[data-batch]', (r) => r.length);
    check(after === before - 1, 'rows before ' + before + ', after ' + after);
    const api2 = await (await fetch(base + 'api/batches')).json();
    check(!api2.batches.some((b) => b.id === batchId), 'batch ' + batchId + ' still stored');

    // an estimate is labelled as modelled and equals the formula
    await page.select('#est-bench', 'conservative_estimate');
    await page.click('#est-btn');
    await page.waitForSelector('#est-result dd[data-key="wh"]');
    const est = await page.$$eval('#est-result dd', (d) => Object.fromEntries(d.map((x) => [x.dataset.key, parseFloat(x.dataset.value)])));
    check(close(est.wh, 1000 / 1000 * est.c_in_wh_per_1000 + 1000 / 1000 * est.c_out_wh_per_1000), 'estimate ' + est.wh);
    const estLabel = await page.$eval('#est-result', (d) => d.textContent);
    check(estLabel.includes('modelled'), 'the estimate is not labelled modelled');

    // a narrow window: one column, nothing wider than the window
    await page.setViewport({width: 420, height: 900});
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, 'the narrow page is ' + overflow + ' px wider than the window');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({path: path.join(outdir, 'lab-narrow.png'), fullPage: false});

    await new Promise((r) => setTimeout(r, 300)); // late console messages
    if (problems.length) fail(problems.join('\n'));
    console.log('lab page check passed: ' + cards.length + ' figures, 3-run batch ' + batchId +
                ', screenshots in ' + outdir);
  } catch (e) {
    // what each page showed when it went wrong
    for (const [p, who] of pages)
      await p.screenshot({path: path.join(outdir, 'failed-' + who.replace(/ /g, '-') + '.png'), fullPage: true}).catch(() => {});
    throw e;
  } finally {
    await browser.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
}

main().catch((e) => {
  if (!process.exitCode) console.error(e);
  process.exitCode = 1;
});
