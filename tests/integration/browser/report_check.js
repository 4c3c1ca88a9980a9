// Loads an ipw report in headless Chromium (Debian's, through puppeteer-core) and checks it:
// no console errors, no page errors, no network requests, no scripts, every plot rendered, ids
// unique, run text escaped, and every number equal to the run's analysis/accuracy.json.
// usage: node report_check.js REPORT.html EXPECT.json
//   EXPECT.json: {"runs": [{"accuracy_json": PATH, "model": NAME}, ...]}
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

function fail(msg) {
  console.error('report check failed: ' + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

async function main() {
  const [html, expectPath] = process.argv.slice(2);
  const expect = JSON.parse(fs.readFileSync(expectPath, 'utf8'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ipw-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profile,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning' || m.type() === 'warn')
        problems.push('console ' + m.type() + ': ' + m.text());
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => problems.push('request failed: ' + r.url()));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith('file:') && !u.startsWith('data:')) problems.push('network request: ' + u);
    });
    await page.setViewport({width: 1280, height: 900});
    await page.goto('file://' + path.resolve(html), {waitUntil: 'load'});

    const dom = await page.evaluate(() => {
      const ids = Array.from(document.querySelectorAll('[id]')).map((e) => e.id);
      const runs = Array.from(document.querySelectorAll('section.run')).map((sec) => ({
        cells: Array.from(sec.querySelectorAll('td[data-metric]:not([data-reg])')).map((td) => ({
          metric: td.dataset.metric, value: td.dataset.value, text: td.textContent.trim()})),
        svgs: Array.from(sec.querySelectorAll('figure svg')).map((s) => {
          const r = s.getBoundingClientRect();
          return {w: r.width, h: r.height, children: s.querySelectorAll('use,path').length};
        }),
        title: sec.querySelector('h2').textContent,
      }));
      const compare = Array.from(document.querySelectorAll('#comparison td[data-metric]')).map(
          (td) => ({run: td.dataset.run, metric: td.dataset.metric, value: td.dataset.value}));
      return {
        title: document.title, scripts: document.querySelectorAll('script').length,
        ids, runs, compare,
        external: Array.from(document.querySelectorAll('[src],[href]')).map(
            (e) => e.getAttribute('src') || e.getAttribute('href')),
      };
    });

    if (dom.scripts !== 0) fail(dom.scripts + ' script elements in the report');
    const dup = dom.ids.filter((id, i) => dom.ids.indexOf(id) !== i);
    if (dup.length) fail('duplicate ids: ' + dup.slice(0, 5).join(', '));
    for (const ref of dom.external)
      if (!ref.startsWith('#') && !ref.startsWith('data:')) fail('external reference: ' + ref);
    if (dom.runs.length !== expect.runs.length)
      fail(dom.runs.length + ' run sections, expected ' + expect.runs.length);

    const same = (shown, want, what) => {
      if (want === null || want === undefined) {
        if (shown !== 'null') fail(what + ': shows ' + shown + ', accuracy.json has null');
      } else if (parseFloat(shown) !== want) {
        fail(what + ': shows ' + shown + ', accuracy.json has ' + want);
      }
    };
    let checked = 0;
    expect.runs.forEach((er, i) => {
      const summary = JSON.parse(fs.readFileSync(er.accuracy_json, 'utf8')).summary;
      const run = dom.runs[i];
      if (!run.title.includes(er.model)) fail('run ' + (i + 1) + ' title "' + run.title +
                                             '" lacks the model name "' + er.model + '"');
      if (run.cells.length < 30) fail('run ' + (i + 1) + ' shows only ' + run.cells.length +
                                      ' numbers');
      for (const c of run.cells) {
        if (!(c.metric in summary)) fail('unknown metric ' + c.metric);
        same(c.value, summary[c.metric], 'run ' + (i + 1) + ' ' + c.metric);
        checked++;
      }
      const accCell = run.cells.find((c) => c.metric === 'accuracy');
      if (summary.accuracy !== null &&
          accCell.text !== (summary.accuracy * 100).toFixed(2) + ' %')
        fail('accuracy shown as "' + accCell.text + '"');
      if (run.svgs.length !== 5) fail('run ' + (i + 1) + ' has ' + run.svgs.length + ' plots');
      for (const s of run.svgs)
        if (!(s.w > 300 && s.h > 150 && s.children > 20)) fail('a plot did not render: ' +
                                                               JSON.stringify(s));
      if (expect.runs.length > 1) {
        const row = dom.compare.filter((c) => c.run === String(i + 1));
        if (row.length < 5) fail('comparison row ' + (i + 1) + ' has ' + row.length + ' cells');
        for (const c of row) {
          same(c.value, summary[c.metric], 'comparison run ' + (i + 1) + ' ' + c.metric);
          checked++;
        }
      }
    });
    if (expect.title_contains && !dom.title.includes(expect.title_contains))
      fail('title "' + dom.title + '" lacks "' + expect.title_contains + '"');
    await new Promise((r) => setTimeout(r, 300)); // late console messages
    if (problems.length) fail(problems.join('\n'));
    console.log('report check passed: ' + checked + ' numbers, ' + dom.runs.length + ' runs');
  } finally {
    await browser.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
}

main().catch((e) => {
  if (!process.exitCode) console.error(e);
  process.exitCode = 1;
});
