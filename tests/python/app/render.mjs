// Renders the summary app (an MCP Apps view) the way a host does, in headless Chromium:
// a host page puts the server's HTML in a sandboxed iframe, answers its ui/initialize,
// waits for ui/notifications/initialized, then sends the tool input and the tool result
// (a real CallToolResult). Prints what the page drew (every chart element's data) as JSON
// and writes a screenshot.
//
// usage: node render.mjs APP.html RESULT.json SCREENSHOT.png [light|dark]
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [appFile, resultFile, screenshot, theme = "light"] = process.argv.slice(2);
const html = readFileSync(appFile, "utf8");
const result = JSON.parse(readFileSync(resultFile, "utf8"));

const host = `<!DOCTYPE html><html><body style="margin:0;background:#eee">
<iframe id="view" sandbox="allow-scripts" style="width:900px;height:1400px;border:0;background:#fff"></iframe>
<script>
  const log = [];
  window.hostLog = log;
  const frame = document.getElementById("view");
  window.addEventListener("message", (event) => {
    if (event.source !== frame.contentWindow) return;
    const m = event.data;
    log.push(m.method || ("response " + m.id));
    const post = (message) => frame.contentWindow.postMessage(Object.assign({ jsonrpc: "2.0" }, message), "*");
    if (m.method === "ui/initialize") {
      post({ id: m.id, result: { protocolVersion: m.params.protocolVersion, hostInfo: { name: "test-host", version: "1" },
        hostCapabilities: {}, hostContext: { theme: ${JSON.stringify(theme)} } } });
    } else if (m.method === "ui/notifications/initialized") {
      post({ method: "ui/notifications/tool-input", params: { arguments: {} } });
      post({ method: "ui/notifications/tool-result", params: window.toolResult });
    } else if (m.method === "ui/notifications/size-changed") {
      frame.style.height = Math.max(200, Math.ceil(m.params.height)) + "px";
      window.sized = m.params;
    }
  });
</script></body></html>`;

// Chromium in a container now and then dies while starting (the CI-like run of 0625bbf:
// "Target page, context or browser has been closed" at launch, passing on rerun): one more
// launch before the test fails; what the page does is checked the same either way.
const launch = () => chromium.launch({
  executablePath: process.env.HEALTHSIM_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const browser = await launch().catch((err) => {
  console.error(`chromium did not start (${String(err).split("\n")[0]}); trying once more`);
  return launch();
});
try {
  const page = await browser.newPage({ viewport: { width: 920, height: 900 } });
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.setContent(host);
  await page.evaluate((r) => { window.toolResult = r; }, result);
  await page.evaluate((doc) => { document.getElementById("view").srcdoc = doc; }, html);
  await page.waitForFunction(() => window.sized !== undefined, null, { timeout: 20000 });
  const view = page.frames().find((f) => f !== page.mainFrame());
  const drawn = await view.evaluate(() => {
    const all = (selector) => [...document.querySelectorAll(selector)];
    const data = (node) => Object.assign({}, node.dataset);
    return {
      rendered: document.body.dataset.rendered === "true",
      title: document.querySelector("h1") ? document.querySelector("h1").textContent : null,
      sections: all("section").map((s) => s.id),
      counts: all("#entity-counts .chip[data-type]").map(data),
      pyramid: all("#age-pyramid rect").map(data),
      timeline: all("#encounter-timeline rect").map(data),
      financials: all("#financials rect").map(data),
      financialLabels: all("#financials text.value").map((t) => t.textContent),
      diagnoses: all("#top-diagnoses rect").map(data),
      samples: all("#samples [data-type]").map((d) => ({ type: d.dataset.type, rows: d.querySelectorAll("tr").length - 1 })),
      error: document.getElementById("error") ? document.getElementById("error").textContent : null,
      theme: document.documentElement.dataset.theme || null,
      background: getComputedStyle(document.body).backgroundColor,
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  const hostLog = await page.evaluate(() => window.hostLog);
  // Anything but the page itself is a network request the view made.
  const network = requests.filter((u) => !u.startsWith("about:") && !u.startsWith("data:"));
  console.log(JSON.stringify({ drawn, hostLog, errors, network }));
} finally {
  await browser.close();
}
