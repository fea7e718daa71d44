// End-to-end test of `pool dashboard` in a real browser: Debian's chromium,
// headless, driven by playwright-core. Run by run.sh with BIN_DIR (the folder
// holding `pool` and `pool-query`) and SHOTS (the folder for screenshots).
// Each point is checked at 1400 px and at 400 px wide, and screenshots are
// saved for a person to look at.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import http from "node:http";
import net from "node:net";
import { chromium } from "playwright-core";

const BIN_DIR = process.env.BIN_DIR;
const SHOTS = process.env.SHOTS || "target/browser";
const README_SHOT = process.env.README_SHOT || "";
const DOCS_SHOTS = process.env.DOCS_SHOTS || "";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
assert.ok(BIN_DIR, "set BIN_DIR to the folder holding pool and pool-query");

const work = mkdtempSync(path.join(tmpdir(), "pool-browser-"));
const poolDir = path.join(work, "pool");
const env = { ...process.env, POOL_DIR: poolDir, CLAUDE_INSTANCE: "" };
const WIDTHS = [1400, 400];
let server, url, port, browser;
const pages = {}; // width -> page
const now = () => Math.floor(Date.now() / 1000);

function pool(...args) {
  return execFileSync(path.join(BIN_DIR, "pool"), args, { env, encoding: "utf8" });
}
function posted(out) {
  return out.trim().replace(/^posted /, "");
}
function entries(query = []) {
  return pool("query", "--json", "--limit", "1000", ...query)
    .split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
/** Appends entries straight to the log (fast seeding), as a writer would. */
function seed(list) {
  const log = path.join(poolDir, "instance_state.jsonl");
  appendFileSync(log, list.map((e) => JSON.stringify(e) + "\n").join(""), { mode: 0o600 });
}
let seq = 0;
function entry(fields) {
  seq += 1;
  return { id: "seed" + String(seq).padStart(6, "0"), timestamp: now(), session_id: "", summary: "", affects: "",
    blocks: "", cwd: "", host: "devbox", ...fields };
}
function presence(instance, session, ageSecs, extra = {}) {
  const dir = path.join(poolDir, "presence");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, Buffer.from(instance + session).toString("hex").padEnd(32, "0").slice(0, 32) + ".json");
  writeFileSync(file, JSON.stringify({
    instance, session_id: session, host: "devbox", first_seen: now() - 3600, last_seen: now() - ageSecs, ended: null, ...extra,
  }), { mode: 0o600 });
}

/** A raw request, so the test controls every header (fetch would set Host itself). */
function rawRequest(pathAndQuery, headers = {}, method = "GET", body = null) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: pathAndQuery, method, headers, timeout: 5000 },
      (res) => {
        let data = "";
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, body: data, headers: res.headers }));
      },
    );
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Sends each request on one connection after the previous one's response
 * headers arrived; returns the start of each response. */
function sameConnection(requests) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const got = [];
    let buf = "";
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error("timeout; got: " + JSON.stringify(got.concat(buf)))); });
    sock.on("error", reject);
    sock.on("connect", () => sock.write(requests[0]));
    sock.on("data", (c) => {
      buf += c;
      // Each answer here is small; one starting after the previous is the next.
      const starts = [...buf.matchAll(/HTTP\/1\.1 \d{3} /g)];
      if (starts.length > got.length) {
        got.push(buf.slice(starts[got.length].index));
        if (got.length < requests.length) sock.write(requests[got.length]);
      }
    });
    sock.on("end", () => resolve(buf.split(/(?=HTTP\/1\.1 \d{3} )/)));
  });
}

function startServer(args = [], extraEnv = {}) {
  const child = spawn(path.join(BIN_DIR, "pool"), ["dashboard", ...args], {
    env: { ...env, ...extraEnv },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const printed = new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no URL printed: " + out)), 10000);
    child.stdout.on("data", (c) => {
      out += c;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[0], port: Number(m[1]), token: m[2], out });
      }
    });
    child.once("exit", (code) => reject(new Error("pool dashboard exited " + code + ": " + out)));
  });
  return { child, printed };
}
function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", resolve);
    child.kill("SIGTERM");
  });
}
async function shot(name) {
  mkdirSync(SHOTS, { recursive: true });
  for (const w of WIDTHS) {
    // What a person sees first, and the whole page.
    await pages[w].screenshot({ path: path.join(SHOTS, `${name}-${w}.png`) });
    await pages[w].screenshot({ path: path.join(SHOTS, `${name}-${w}-full.png`), fullPage: true });
  }
}
async function eachWidth(fn) {
  for (const w of WIDTHS) await fn(pages[w], w);
}

before(async () => {
  mkdirSync(poolDir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(poolDir, "config.json"), JSON.stringify({
    // The seeded entries name no repository: a shared scope of every
    // repository shows them (README, "Scope and membership").
    scopes: { all: ["*"] },
    instances: {
      API: { role: "builder", domain: ["api", "auth"] },
      WEB: { role: "frontend", domain: ["ui"] },
      QA: { role: "tester", domain: ["tests"] },
      DOCS: { role: "writer", domain: ["docs"] },
    },
  }));
  presence("API", "s-api", 20, { agent: "codex", cwd: "/work/shop-API/src", worktree: "/work/shop-API", branch: "pool/API" });
  presence("WEB", "s-web", 40, { cwd: "/work/shop-WEB", worktree: "/work/shop-WEB", branch: "pool/WEB" });
  presence("QA", "s-qa", 90, { cwd: "/work/shop-QA", worktree: "/work/shop-QA", branch: "pool/QA" });
  presence("DOCS", "s-docs", 1500, { cwd: "/work/shop-DOCS", worktree: "/work/shop-DOCS", branch: "pool/DOCS" });
  // A day of older entries, beyond the 300 the page shows first.
  const old = [];
  for (let i = 0; i < 340; i++) {
    old.push(entry({ timestamp: now() - 80000 + i * 100, source_instance: ["API", "WEB", "QA", "DOCS"][i % 4],
      action: ["completed", "signaling", "learned", "decided"][i % 4], topic: "routine step " + i + (i === 17 ? " needle-seventeen" : ""),
      ttl: 86400 * 2 }));
  }
  // Claims without cwd that overlap (written by an older hook).
  old.push(entry({ timestamp: now() - 600, source_instance: "WEB", action: "claimed", topic: "Checkout page", affects: "web/checkout/", ttl: 86400 }));
  old.push(entry({ timestamp: now() - 500, source_instance: "QA", action: "claimed", topic: "Checkout e2e", affects: "web/checkout/flow.spec.ts", ttl: 86400 }));
  for (let i = 0; i < 8; i++) {
    old.push(entry({ timestamp: now() - 400 + i, source_instance: "API", action: "claimed", topic: "Handler " + i,
      affects: "src/handlers/h" + i + ".rs", cwd: "/work/shop-API", ttl: 86400 }));
  }
  seed(old);
  pool("post", "--instance", "API", "--action", "completed", "--topic", "Auth token refresh",
    "--summary", "<b>not bold</b><script>window.__pwned = 1</script>", "--affects", "src/auth/token.rs");
  pool("post", "--instance", "QA", "--action", "blocked", "--topic", "Payment sandbox",
    "--summary", "the sandbox keys expired; waiting for new ones", "--ttl", "4h");
  pool("post", "--instance", "DOCS", "--action", "blocked", "--topic", "API reference",
    "--summary", "needs the final endpoint list");
  pool("post", "--instance", "API", "--action", "completed", "--topic", "api reference",
    "--summary", "endpoint list is final: see docs/api.md", "--blocks", "DOCS can write the reference");
  pool("post", "--instance", "API", "--action", "signaling", "--topic", "Review the refresh flow",
    "--to", "WEB", "--summary", "the client must retry once on 401");

  // The browser script exists before the server that runs it starts.
  writeFileSync(path.join(work, "browser.sh"), "#!/bin/sh\necho \"$@\" > " + path.join(work, "opened") + "\n", { mode: 0o755 });
  const s = startServer(["--open"], { BROWSER: path.join(work, "browser.sh") });
  server = s.child;
  ({ url, port } = await s.printed);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  for (const w of WIDTHS) {
    const ctx = await browser.newContext({ viewport: { width: w, height: w > 800 ? 900 : 800 } });
    ctx.setDefaultTimeout(15000);
    pages[w] = await ctx.newPage();
  }
});

after(async () => {
  if (pages[1400]) {
    await pages[1400].screenshot({ path: path.join(SHOTS, "dashboard.png"), fullPage: true }).catch(() => {});
  }
  await browser?.close().catch(() => {});
  if (server) await stopServer(server);
  rmSync(work, { recursive: true, force: true });
});

test("--open opens the printed URL in the browser", async () => {
  const deadline = Date.now() + 5000;
  while (!existsSync(path.join(work, "opened")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(readFileSync(path.join(work, "opened"), "utf8").trim(), url);
});

test("the page loads with the token, which then moves into a cookie", async () => {
  await eachWidth(async (page) => {
    const resp = await page.goto(url);
    assert.equal(resp.status(), 200);
    await page.locator("#conn.live").waitFor();
    assert.equal(new URL(page.url()).search, "", "the token left the address bar");
    const cookies = await page.context().cookies();
    const c = cookies.find((c) => c.name === "pool_token_" + port);
    assert.ok(c && c.httpOnly && c.sameSite === "Strict", JSON.stringify(cookies));
    // A reload without the token works from the cookie.
    assert.equal((await page.reload()).status(), 200);
    await page.locator("#stream li[data-id]").first().waitFor();
    const seeded = page.locator("#stream li[data-id]", { hasText: "Auth token refresh" });
    // Text from other sessions is neutralised before it is shown (issue
    // 12): a '<' that opens a tag becomes '‹', and the rest is shown as
    // text, never parsed as HTML.
    assert.equal(await seeded.locator(".summary").textContent(), "‹b>not bold‹/b>‹script>window.__pwned = 1‹/script>");
    assert.equal(await page.locator("#stream b, #stream script").count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });
  const st = statSync(path.join(poolDir, "dashboard.json"));
  assert.equal(st.mode & 0o777, 0o600, "the token is stored privately");
});

test("the summary bar counts blocked, handoffs and conflicts, and stays on top on a phone", async () => {
  await eachWidth(async (page, w) => {
    const bar = page.locator("#summary");
    await page.locator("#sum-blocked", { hasText: "1 blocked" }).waitFor();
    assert.match(await bar.textContent(), /1 blocked\s*·\s*1 handoff\s*·\s*1 conflict\s*·\s*3 of 4 active/);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.waitForTimeout(100);
    const box = await bar.boundingBox();
    assert.ok(box && Math.abs(box.y) < 1, `sticky at ${w}px: y=${box && box.y}`);
    // One line, also on a phone (it wrapped with a dangling "·" at 400 px).
    assert.ok(box.height < 40, `the summary bar is ${box.height}px high at ${w}px`);
    await page.evaluate(() => window.scrollTo(0, 0));
  });
  // On a phone, blocked, handoffs and conflicts come before the cards.
  const p = pages[400];
  const y = async (sel) => (await p.locator(sel).boundingBox()).y;
  assert.ok(await y("#blocked-sec") < await y("#handoffs-sec"));
  assert.ok(await y("#handoffs-sec") < await y("#conflicts-sec"));
  assert.ok(await y("#conflicts-sec") < await y("#cards-sec"));
  assert.ok(await y("#conflicts-sec") < 1600, "conflicts are near the top, not at 2,500 px");
  await shot("summary");
});

test("blocked instances come first, with what they are blocked on and for how long", async () => {
  await eachWidth(async (page) => {
    const first = page.locator(".card").first();
    assert.equal(await first.getAttribute("data-instance"), "QA");
    assert.match(await first.getAttribute("class"), /blocked/);
    assert.match(await first.textContent(), /blocked on “Payment sandbox” for \d+s/);
    const open = page.locator("#blocked .block-item:not(.ended)");
    assert.equal(await open.count(), 1);
    assert.match(await open.textContent(), /QA is blocked on “Payment sandbox” for \d+s/);
    assert.match(await open.textContent(), /the sandbox keys expired/);
  });
});

test("links go from a blocker to what unblocked it, and from a handoff to its addressee", async () => {
  const completed = entries(["--instance", "API", "--action", "completed"]).find((e) => e.topic === "api reference");
  await eachWidth(async (page) => {
    const ended = page.locator("#blocked .block-item.ended", { hasText: "API reference" });
    assert.match(await ended.textContent(), /DOCS was blocked on “API reference”.*unblocked by API/s);
    const a = ended.locator("a.unblocker");
    assert.equal(await a.getAttribute("href"), "#entry-" + completed.id);
    await a.click();
    const target = page.locator("#entry-" + completed.id);
    await target.waitFor();
    assert.match(await target.getAttribute("class"), /target/);
    assert.ok(await target.isVisible());
    const handoff = page.locator("#links li[data-kind=handoff]");
    assert.match(await handoff.textContent(), /API → handoff to WEB/);
    assert.equal(await handoff.locator("a.who").nth(1).getAttribute("href"), "#card-WEB");
    // Only waits: the pending handoff and who is blocked; an ended block
    // (named in the blocked list) and a REF are no wait.
    assert.equal(await page.locator("#links li[data-kind=unblocked]").count(), 0);
    assert.equal(await page.locator("#links li[data-kind=ref]").count(), 0);
    assert.match(await page.locator("#links li[data-kind=blocked]").textContent(), /QA waits on “Payment sandbox”/);
    assert.equal(await page.locator("#graph path.edge.handoff").count(), 1);
    assert.equal(await page.locator("#graph path.edge.unblocked").count(), 0);
    assert.equal(await page.locator("#graph path.edge.ref").count(), 0);
    assert.equal(await page.locator("#graph circle.node.blocked").count(), 1);
    await page.evaluate(() => window.scrollTo(0, 0));
  });
  await shot("links");
  if (DOCS_SHOTS) {
    // The docs' pictures (docs/dashboard.md): this team at 1400 and 400 px.
    mkdirSync(DOCS_SHOTS, { recursive: true });
    for (const w of WIDTHS) {
      const p = pages[w];
      await p.evaluate(() => { document.querySelectorAll(".target").forEach((x) => x.classList.remove("target")); window.scrollTo(0, 0); });
      await p.screenshot({ path: path.join(DOCS_SHOTS, `dashboard-${w}.png`) });
    }
  }
  if (README_SHOT) {
    // The README's picture: this realistic team, at the top of the page.
    const p = pages[1400];
    await p.evaluate(() => { document.querySelectorAll(".target").forEach((x) => x.classList.remove("target")); window.scrollTo(0, 0); });
    await p.setViewportSize({ width: 1280, height: 820 });
    await p.screenshot({ path: README_SHOT });
    await p.setViewportSize({ width: 1400, height: 900 });
  }
});

test("conflicts are found for claims without cwd, and claims are capped per card", async () => {
  await eachWidth(async (page) => {
    const c = page.locator("#conflicts li.conflict");
    assert.equal(await c.count(), 1);
    assert.match(await c.textContent(), /QA \(web\/checkout\/flow\.spec\.ts, Checkout e2e\) overlaps WEB \(web\/checkout\/, Checkout page\)/);
    const api = page.locator('.card[data-instance="API"]');
    assert.equal(await api.locator("ul.claims > li button.release").count(), 5);
    assert.match(await api.locator(".more-claims").textContent(), /\+ 3 more claims/);
    // The agent each session runs under, from its presence file.
    assert.equal(await api.locator(".badge.agent").textContent(), "Codex");
    assert.equal(await page.locator('.card[data-instance="WEB"] .badge.agent').textContent(), "Claude Code");
  });
});

test("paging and search reach entries beyond the first 300, with totals", async () => {
  const page = pages[1400];
  const count = page.locator("#stream-count");
  assert.match(await count.textContent(), /showing 300 of 3\d\d in the last 24 h/);
  await page.click("#load-more");
  // "showing 300 of 3xx" matches /showing 3\d\d of 3\d\d/ too: wait for the
  // button to go, then check every entry is shown.
  await page.locator("#load-more").waitFor({ state: "hidden" });
  const [shown, total] = (await count.textContent()).match(/showing (3\d\d) of (3\d\d)/).slice(1);
  assert.equal(shown, total);
  await page.fill("#search", "needle-seventeen");
  await page.locator("#stream-count", { hasText: "showing 1 of 1 matching" }).waitFor();
  assert.match(await page.locator("#stream li[data-id]").textContent(), /routine step 17 needle-seventeen/);
  await page.fill("#search", "");
  await page.locator("#stream-count", { hasText: /showing 300 of/ }).waitFor();
  await page.selectOption("#filter-action", "blocked");
  await page.locator("#stream-count", { hasText: "showing 2 of 2 matching" }).waitFor();
  await page.selectOption("#filter-action", "");
  await page.locator("#stream-count", { hasText: /showing 300 of/ }).waitFor();
});

test("the repository switch narrows the stream to one repository and back", async () => {
  const page = pages[1400];
  await page.locator("#stream-count", { hasText: /showing 300 of/ }).waitFor();
  await page.selectOption("#repo-scope", "all");
  await page.locator("#stream-count", { hasText: /showing 300 of/ }).waitFor();
  // A repository that wrote nothing: the stream empties.
  // Added and chosen in one step: a live update in between rebuilds the
  // options from the state, which knows nothing of this repository yet.
  await page.evaluate(() => {
    const rs = document.getElementById("repo-scope");
    const o = document.createElement("option");
    o.value = "example.org/nobody/here"; o.textContent = o.value;
    rs.append(o);
    rs.value = o.value;
    rs.dispatchEvent(new Event("change"));
  });
  await page.locator("#stream-count", { hasText: /^showing 0 of 0 / }).waitFor({ timeout: 15000 });
  assert.equal(await page.locator("#stream li[data-id]").count(), 0);
  await page.selectOption("#repo-scope", "");
  await page.locator("#stream-count", { hasText: /showing 300 of/ }).waitFor({ timeout: 15000 });
  await page.locator("#conn.live").waitFor();
});

test("a handoff is acknowledged from the page, and the entry is marked as from the dashboard", async () => {
  const page = pages[1400];
  await page.fill("#f-instance", "WEB");
  const item = page.locator("#handoffs li.handoff", { hasText: "Review the refresh flow" });
  await item.locator("button.ack").click();
  await page.locator("#handoffs li.handoff").first().waitFor({ state: "detached" });
  await page.locator("#sum-handoffs", { hasText: "0 handoffs" }).waitFor();
  const ack = entries(["--instance", "WEB"]).find((e) => e.topic === "Acknowledged: Review the refresh flow");
  assert.ok(ack, "the acknowledgement is in the pool");
  assert.equal(ack.origin, "dashboard");
  assert.ok(ack.ref, "it refers to the handoff");
  const li = page.locator("#entry-" + ack.id);
  await li.waitFor();
  assert.match(await li.textContent(), /via dashboard/);
  // The handoff itself says who acknowledged it, with a link to the acknowledgement.
  const acked = page.locator("#entry-" + ack.ref + " .acked");
  await acked.waitFor();
  assert.match(await acked.textContent(), /acknowledged by WEB \(via dashboard\)/);
  assert.equal(await acked.locator("a.entry-link, a").last().getAttribute("href"), "#entry-" + ack.id);
  // No graph edge for an acknowledgement: it is no wait.
  assert.equal(await page.locator("#graph path.edge").count(), 0);
  await pages[400].reload();
  await pages[400].locator("#sum-handoffs", { hasText: "0 handoffs" }).waitFor();
  await shot("acked");
});

test("a person acknowledging from the page is not an instance: no card, no node, not counted, not in pool status", async () => {
  const page = pages[1400];
  const before = await page.locator("#sum-active").textContent();
  assert.match(before, / of 4 active/);
  const h = posted(pool("post", "--instance", "API", "--action", "signaling", "--topic", "Check the fixtures", "--to", "QA"));
  const item = page.locator("#handoffs li.handoff", { hasText: "Check the fixtures" });
  await item.waitFor();
  await page.fill("#f-instance", "human");
  await item.locator("button.ack").click();
  await item.waitFor({ state: "detached" });
  const ack = entries(["--instance", "human"]).find((e) => e.ref === h);
  assert.ok(ack, "acknowledged as human");
  assert.equal(ack.origin, "dashboard");
  await page.locator("#entry-" + ack.id).waitFor();
  await page.locator("#entry-" + h + " .acked", { hasText: "acknowledged by human (via dashboard)" }).waitFor();
  await eachWidth(async (p) => {
    await p.reload();
    await p.locator("#entry-" + ack.id).waitFor();
    assert.equal(await p.locator('.card[data-instance="human"]').count(), 0, "no card for a person");
    assert.match(await p.locator("#sum-active").textContent(), / of 4 active/);
    assert.doesNotMatch(await p.locator("#graph").textContent(), /human/);
  });
  assert.doesNotMatch(pool("status"), /^human/m);
  await shot("person");
});

test("relative times tick without a reload", async () => {
  const page = pages[1400];
  const id = posted(pool("post", "--instance", "DOCS", "--action", "learned", "--topic", "Clocks tick"));
  const t = page.locator("#entry-" + id + " .when .tick");
  await t.waitFor();
  const first = await t.textContent();
  await page.waitForTimeout(2500);
  const later = await t.textContent();
  assert.match(later, /^\d+s ago$/);
  assert.notEqual(later, first, "the age moved on");
  const blockedFor = page.locator("#blocked .block-item:not(.ended) .dur").first();
  const a = await blockedFor.textContent();
  assert.match(a, /^for /);
});

test("a claim is released from the page: one's own, or explicitly as a person", async () => {
  const page = pages[1400];
  await page.fill("#f-instance", "lead");
  page.once("dialog", (d) => {
    assert.match(d.message(), /Release WEB's claim as a person \(lead\)/);
    d.accept();
  });
  await page.locator('.card[data-instance="WEB"] button.release').first().click();
  await page.locator("#conflicts li.empty").waitFor();
  const rel = entries(["--instance", "lead", "--action", "released"])[0];
  // A person's release of another instance's claim is recorded as forced:
  // the only release that closes someone else's claim.
  assert.equal(rel.origin, "forced");
  assert.match(rel.summary, /WEB's claim released from the dashboard by lead, as a person/);
});

test("a post with TTL, BLOCKS, TO and REF lands in the pool, marked as from the dashboard", async () => {
  const page = pages[1400];
  await page.fill("#f-instance", "human");
  await page.fill("#f-to", "API");
  await page.selectOption("#f-action", "question");
  await page.fill("#f-topic", "Which token lifetime?");
  await page.fill("#f-blocks", "QA can finish the payment tests");
  await page.fill("#f-ttl", "2h");
  const blocked = entries(["--instance", "QA", "--action", "blocked"])[0];
  await page.fill("#f-ref", blocked.id);
  await page.click("#f-submit");
  await page.locator("#post-result", { hasText: "posted" }).waitFor();
  const e = entries(["--instance", "human"]).find((x) => x.topic === "Which token lifetime?");
  assert.equal(e.to, "API");
  assert.equal(e.ttl, 7200);
  assert.equal(e.blocks, "QA can finish the payment tests");
  assert.equal(e.ref, blocked.id);
  assert.equal(e.origin, "dashboard");
  // Its REF answered QA's blocker: QA is no longer blocked.
  await page.locator("#sum-blocked", { hasText: "0 blocked" }).waitFor();
  await page.fill("#f-ttl", "45d");
  await page.fill("#f-topic", "too long");
  await page.fill("#f-ref", "");
  await page.click("#f-submit");
  await page.locator("#post-result.error", { hasText: "30-day" }).waitFor();
});

test("long unbroken text does not widen the page; paths break at /", async () => {
  const token = "x".repeat(3000);
  const longPath = "/work/" + Array.from({ length: 40 }, (_, i) => "folder" + i).join("/") + "/file.rs";
  pool("post", "--instance", "WEB", "--action", "signaling", "--topic", token, "--summary", token, "--affects", longPath);
  await eachWidth(async (page, w) => {
    await page.locator("#stream li[data-id]", { hasText: "xxxxxxxxxx" }).first().waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= w, `scrollWidth ${width} at ${w}px`);
    // Read in one go: the stream may be re-rendered between two calls.
    const info = await page.evaluate(() => {
      const li = [...document.querySelectorAll("#stream li[data-id]")].find((x) => x.textContent.includes("folder39"));
      const p = li.querySelector(".path");
      return { wbr: p.querySelectorAll("wbr").length, wrap: getComputedStyle(p).overflowWrap, width: p.getBoundingClientRect().width };
    });
    assert.ok(info.wbr >= 40, "a break opportunity after each /");
    assert.equal(info.wrap, "normal", "no break inside a name");
    assert.ok(info.width <= w, "the path wraps within the page");
    const id = page.locator("#stream li[data-id] .id").first();
    assert.equal((await id.locator("span").first().textContent()).length <= 9, true, "short id");
    assert.ok((await id.getAttribute("title")).length > 9, "full id on hover");
    assert.equal(await id.locator("button.copy").count(), 1);
    // What a person sees of the long entry itself.
    await page.evaluate(() => [...document.querySelectorAll("#stream li[data-id]")]
      .find((x) => x.textContent.includes("folder39")).scrollIntoView({ block: "start" }));
    await page.screenshot({ path: path.join(SHOTS, `long-entry-${w}.png`) });
    await page.evaluate(() => window.scrollTo(0, 0));
  });
  await shot("long-text");
});

test("the token survives a restart: the open tab reconnects; a rotated token is refused with advice", async () => {
  const page = pages[1400];
  await page.locator("#conn.live").waitFor();
  await page.evaluate(() => (window.__sameDocument = true));
  await stopServer(server);
  await page.locator("#conn", { hasText: "reconnecting" }).waitFor();
  const again = startServer();
  server = again.child;
  const printed = await again.printed;
  assert.equal(printed.port, port, "the same port");
  assert.equal(printed.url, url, "the same token");
  await page.locator("#conn.live").waitFor({ timeout: 15000 });
  pool("post", "--instance", "DOCS", "--action", "completed", "--topic", "After the restart");
  await page.locator("#stream li[data-id]", { hasText: "After the restart" }).waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload happened");
  // Rotating the token: the tab is told what to do instead of hanging.
  await stopServer(server);
  const rotated = startServer(["--rotate-token"]);
  server = rotated.child;
  const r = await rotated.printed;
  assert.notEqual(r.token, new URL(url).searchParams.get("token"));
  await page.locator("#notice.on", { hasText: "open the URL pool dashboard printed last" }).waitFor({ timeout: 15000 });
  await page.screenshot({ path: path.join(SHOTS, "rotated-1400.png") });
  url = r.url;
  port = r.port;
});

test("a forwarded host is refused with a friendly page, and allowed with --allow-host", async () => {
  const token = new URL(url).searchParams.get("token");
  const refused = await rawRequest("/?token=" + token, { Host: "devbox:9000", Accept: "text/html" });
  assert.equal(refused.status, 403);
  assert.match(refused.body, /pool dashboard --allow-host devbox/);
  assert.match(refused.headers["content-type"], /text\/html/);
  await stopServer(server);
  const allowed = startServer(["--allow-host", "devbox"]);
  server = allowed.child;
  await allowed.printed;
  const ok = await rawRequest("/api/state?token=" + token, { Host: "devbox:9000" });
  assert.equal(ok.status, 200);
  const post = await rawRequest("/api/post?token=" + token,
    { Host: "devbox:9000", Origin: "https://devbox:9000", "Content-Type": "application/json" },
    "POST", JSON.stringify({ instance: "lead", topic: "from the forwarded page" }));
  assert.equal(post.status, 200, post.body);
  assert.equal((await rawRequest("/api/state?token=" + token, { Host: "evil.example:9000" })).status, 403);
  // The browser without a token gets advice, not a bare refusal.
  await eachWidth(async (_, w) => {
    const p = await browser.newPage({ viewport: { width: w, height: 700 } });
    const resp = await p.goto(`http://127.0.0.1:${port}/`);
    assert.equal(resp.status(), 403);
    assert.match(await p.locator("body").textContent(), /open the whole URL it printed/);
    await p.screenshot({ path: path.join(SHOTS, `forbidden-${w}.png`) });
    await p.close();
  });
});

test("requests without the token, from another host or another origin are refused", async () => {
  const token = new URL(url).searchParams.get("token");
  assert.equal((await rawRequest("/")).status, 403);
  assert.equal((await rawRequest("/api/state")).status, 403);
  assert.equal((await rawRequest("/events?token=wrong")).status, 403);
  assert.equal((await rawRequest("/api/state?token=" + token)).status, 200);
  assert.equal((await rawRequest("/api/state?token=" + token, { Host: "evil.example:" + port })).status, 403);
  const cross = await rawRequest("/api/post?token=" + token,
    { Origin: "http://evil.example", "Content-Type": "application/json" }, "POST",
    JSON.stringify({ instance: "evil", topic: "x" }));
  assert.equal(cross.status, 403);
  const crossAck = await rawRequest("/api/ack?token=" + token,
    { Origin: "http://evil.example", "Content-Type": "application/json" }, "POST", JSON.stringify({ id: "x" }));
  assert.equal(crossAck.status, 403);
  // A refused POST's body (chunked, as Node and browsers may send it) is not
  // taken for the next request on the same kept-alive connection.
  const [first, second] = await sameConnection([
    "POST /api/ack?token=" + token + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nOrigin: http://evil.example\r\n"
      + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\na\r\n{\"id\":\"x\"}\r\n0\r\n\r\n",
    "GET /api/state?token=" + token + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n",
  ]);
  assert.match(first, /^HTTP\/1\.1 403 /);
  assert.match(second, /^HTTP\/1\.1 200 /);
});
