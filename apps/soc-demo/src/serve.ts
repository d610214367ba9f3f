/**
 * The web view: a local page showing what the display scans out, which process holds each camera
 * buffer, bufinfo, and CMA occupancy, refreshed from the running simulation.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Snapshot } from "./pipeline.js";

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>soc-demo: live</title>
<style>
 body{font:14px system-ui,sans-serif;margin:16px;background:#111;color:#ddd}
 h1{font-size:18px;margin:0 0 12px} h2{font-size:14px;margin:16px 0 6px;color:#9cf}
 #wrap{display:flex;gap:24px;flex-wrap:wrap}
 #screen{border:1px solid #444;max-width:640px;background:#000}
 .pipe{display:flex;gap:8px;align-items:center}
 .dev{border:1px solid #666;border-radius:6px;padding:6px 10px;min-width:90px;text-align:center}
 .buf{display:inline-block;width:22px;height:22px;margin:2px;border-radius:4px;text-align:center;line-height:22px;color:#000;font-weight:bold}
 .camera{background:#8c8} .encoder{background:#fc6} .display{background:#6cf} .both{background:#f9c}
 table{border-collapse:collapse;font:12px monospace} td,th{border:1px solid #444;padding:2px 6px}
 #cma{display:flex;height:18px;width:512px;border:1px solid #555} #cma div{flex:1}
</style></head><body>
<h1>soc-demo: camera &rarr; encoder &rarr; display, zero copy, virtual time <span id="t"></span></h1>
<div id="wrap">
 <div><h2>display output (vkms scanout)</h2><img id="screen" alt="scanout"></div>
 <div>
  <h2>pipeline: who holds each camera buffer</h2>
  <div class="pipe"><div class="dev">camera<br><span id="b-camera"></span></div>&rarr;
   <div class="dev">encoder<br><span id="b-encoder"></span></div>&rarr;
   <div class="dev">display<br><span id="b-display"></span></div></div>
  <h2>CMA <span id="cmatext"></span></h2><div id="cma"></div>
  <h2>/sys/kernel/debug/dma_buf/bufinfo</h2>
  <table id="bufinfo"><thead><tr><th>size</th><th>count</th><th>exp_name</th><th>ino</th><th>attached devices</th></tr></thead><tbody></tbody></table>
 </div>
</div>
<script>
const $ = (id) => document.getElementById(id);
function bufinfoRows(text) {
  const rows = []; let cur = null;
  for (const line of text.split("\\n")) {
    const m = /^([0-9]{8})\\t([0-9]{8})\\t([0-9]{8})\\t([0-9]{8})\\t(\\S+)\\t([0-9]{8})/.exec(line);
    if (m) { cur = { size: +m[1], count: +m[4], exp: m[5], ino: +m[6], devs: [] }; rows.push(cur); }
    else if (cur && /^\\t[^A]/.test(line) && !line.includes("Attached Devices")) cur.devs.push(line.trim());
  }
  return rows;
}
async function tick() {
  try {
    const s = await (await fetch("/state.json")).json();
    if (s.sequence !== undefined) {
      $("screen").src = "/frame.png?seq=" + s.sequence;
      $("t").textContent = "t = " + (s.virtualNs / 1e9).toFixed(3) + " s, frame " + s.sequence;
      for (const who of ["camera", "encoder", "display"]) $("b-" + who).innerHTML = "";
      s.buffers.forEach((h, i) => {
        const cls = h.includes("+") ? "both" : h;
        for (const who of h.split("+")) $("b-" + who).innerHTML += '<span class="buf ' + cls + '">' + i + "</span>";
      });
      $("cma").innerHTML = s.cma.occupancy.map((f) => '<div style="background:rgb(' + Math.round(40 + 200 * f) + ',60,60)"></div>').join("");
      $("cmatext").textContent = s.cma.name + ": " + (s.cma.usedBytes / 1048576).toFixed(1) + " MiB used of " + (s.cma.sizeBytes / 1048576).toFixed(0) + " MiB, largest free chunk " + (s.cma.maxchunkBytes / 1048576).toFixed(1) + " MiB";
      $("bufinfo").tBodies[0].innerHTML = bufinfoRows(s.bufinfo).map((r) => "<tr><td>" + r.size + "</td><td>" + r.count + "</td><td>" + r.exp + "</td><td>" + r.ino + "</td><td>" + r.devs.join(", ") + "</td></tr>").join("");
    }
  } catch (e) { /* the simulation restarts between runs */ }
  setTimeout(tick, 200);
}
tick();
</script></body></html>`;

/** Serves the page, /state.json and /frame.png on 127.0.0.1:`port` (0 picks a free port). */
export async function serveLiveView(port: number): Promise<{ url: string; update: (s: Snapshot) => void; server: Server }> {
  let latest: Snapshot | undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/") res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
    else if (path === "/state.json") {
      const { png: _png, ...state } = latest ?? ({} as Snapshot);
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(state));
    } else if (path === "/frame.png" && latest) res.writeHead(200, { "content-type": "image/png", "cache-control": "no-store" }).end(latest.png);
    else res.writeHead(404).end("not found\n");
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: bound } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${bound}/`, update: (s) => void (latest = s), server };
}
